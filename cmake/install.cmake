# install.cmake — header, libraries, the zsq program, pkg-config file and CMake package config.
include(CMakePackageConfigHelpers)
install(FILES include/zsq.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS zsq_static zsq_shared EXPORT zsqTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS zsq RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT zsqTargets NAMESPACE zsq:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zsq)
configure_package_config_file(cmake/zsqConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/zsqConfig.cmake"
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zsq)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/zsqConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/zsqConfig.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/zsqConfigVersion.cmake"
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/zsq)
# The .pc file locates the prefix relative to itself, so `cmake --install --prefix` works too.
file(RELATIVE_PATH ZSQ_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(cmake/zsq.pc.in "${CMAKE_CURRENT_BINARY_DIR}/zsq.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/zsq.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
