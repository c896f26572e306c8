/* cli_report.c — the per-layer quantization report (text table or JSON) of a quantized model. */
#include "cli/cli.h"

void zsq_cli_print_report(zsq_model *q, FILE *f, int json) {
  const size_t n = zsq_model_quant_layer_count(q);
  size_t worst = 0;
  zsq_quant_layer l;
  for (size_t i = 0; i < n; i++) {
    zsq_quant_layer w;
    zsq_model_quant_layer(q, i, &l);
    zsq_model_quant_layer(q, worst, &w);
    if (l.isolated_sqnr_db < w.isolated_sqnr_db) worst = i;
  }
  if (json)
    fprintf(f, "{\"layers\": [");
  else
    fprintf(f, "%-44s %5s %7s %5s %10s %10s %8s %8s %8s\n", "layer", "wbits", "W zp", "abits",
            "in min", "in max", "W SQNR", "iso dB", "acc dB");
  for (size_t i = 0; i < n; i++) {
    zsq_model_quant_layer(q, i, &l);
    if (json) {
      fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
      zsq_json_string(f, l.name);
      fprintf(f, ", \"wbits\": %d, \"weight_scheme\": \"%s\"", l.wbits,
              l.weight_asym ? "asym" : "sym");
      if (l.weight_asym)
        fprintf(f, ", \"weight_zero_point_min\": %d, \"weight_zero_point_max\": %d", l.wzero_min,
                l.wzero_max);
      fprintf(f,
              ", \"abits\": %d, \"in_min\": %.6g, \"in_max\": %.6g, \"in_scale\": %.6g, "
              "\"in_zero_point\": %g, \"weight_sqnr_db\": %.2f, \"isolated_sqnr_db\": %.2f, "
              "\"accumulated_sqnr_db\": %.2f",
              l.abits, l.in_min, l.in_max, l.in_scale, l.in_zero_point, l.weight_sqnr_db,
              l.isolated_sqnr_db, l.accumulated_sqnr_db);
      if (l.seconds > 0) fprintf(f, ", \"seconds\": %.4g", l.seconds);
      fprintf(f, "}");
    } else {
      char zp[16] = "sym"; /* the zero points' range of an asymmetric layer */
      if (l.weight_asym) snprintf(zp, sizeof zp, "%d..%d", l.wzero_min, l.wzero_max);
      fprintf(f, "%-44.44s %5d %7s %5d %10.4g %10.4g %8.2f %8.2f %8.2f%s\n", l.name, l.wbits, zp,
              l.abits, l.in_min, l.in_max, l.weight_sqnr_db, l.isolated_sqnr_db,
              l.accumulated_sqnr_db, i == worst ? "  <- hurts most" : "");
    }
  }
  int64_t bits = 0, weights = 0;
  for (size_t i = 0; i < n; i++) {
    zsq_model_quant_layer(q, i, &l);
    bits += l.weights * l.wbits;
    weights += l.weights;
  }
  zsq_model_quant_layer(q, worst, &l);
  if (json) {
    fprintf(f, "],\n \"worst_layer\": ");
    zsq_json_string(f, l.name);
    fprintf(f, ", \"weights\": %lld, \"weight_code_bytes\": %lld", (long long)weights,
            (long long)((bits + 7) / 8));
    zsq_recon_summary rs;
    if (zsq_model_recon_summary(q, &rs) == ZSQ_OK && rs.units > 0)
      fprintf(f, ", \"recon_units\": %d, \"pd_units\": %d, \"dc_units\": %d", rs.units, rs.pd_units,
              rs.dc_units);
    zsq_latency_summary ls;
    if (zsq_model_latency_summary(q, &ls) == ZSQ_OK && ls.budget > 0)
      fprintf(f,
              ",\n \"latency\": {\"budget_s\": %.4g, \"predicted_s\": %.4g, \"all_8bit_s\": %.4g, "
              "\"fastest_s\": %.4g, \"other_s\": %.4g, \"batch\": 1, \"threads\": %d}",
              ls.budget, ls.predicted, ls.all_8bit, ls.fastest, ls.other, ls.threads);
    fprintf(f, "}\n");
  } else {
    fprintf(f, "weights: %lld codes in %lld bytes (%.2f bits each on average)\n",
            (long long)weights, (long long)((bits + 7) / 8),
            weights ? (double)bits / (double)weights : 0.0);
  }
}

void zsq_cli_print_latency(zsq_model *q, FILE *f) {
  zsq_latency_summary ls;
  if (zsq_model_latency_summary(q, &ls) != ZSQ_OK || !(ls.budget > 0)) return;
  fprintf(f,
          "latency per image (batch 1, %d thread%s, measured here): budget %.4g ms, predicted "
          "%.4g ms; all 8-bit %.4g ms, fastest %.4g ms; %.4g ms of it outside Conv/Gemm\n",
          ls.threads, ls.threads > 1 ? "s" : "", ls.budget * 1e3, ls.predicted * 1e3,
          ls.all_8bit * 1e3, ls.fastest * 1e3, ls.other * 1e3);
  for (size_t i = 0; i < zsq_model_quant_layer_count(q); i++) {
    zsq_quant_layer l;
    zsq_model_quant_layer(q, i, &l);
    fprintf(f, "  %-44.44s %d-bit weights %9.2f us\n", l.name, l.wbits, l.seconds * 1e6);
  }
}
