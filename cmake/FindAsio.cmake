# Standalone Asio (Debian libasio-dev) ships no CMake config: find the header and
# expose an interface target Asio::asio configured for standalone use.
# ASIO_DISABLE_STD_ALIGNED_ALLOC: asio 1.22 picks aligned_alloc/free or operator
# new/delete per translation unit depending on what was included first, so memory
# allocated in one unit can be freed with the other's function (ASan reports an
# alloc-dealloc mismatch). Forcing operator new/delete everywhere keeps them paired.
find_path(Asio_INCLUDE_DIR NAMES asio.hpp)
if(Asio_INCLUDE_DIR AND EXISTS "${Asio_INCLUDE_DIR}/asio/version.hpp")
  file(STRINGS "${Asio_INCLUDE_DIR}/asio/version.hpp" _asio_version_line
       REGEX "^#define ASIO_VERSION [0-9]+")
  string(REGEX REPLACE "^#define ASIO_VERSION ([0-9]+).*" "\\1" _asio_v "${_asio_version_line}")
  math(EXPR _major "${_asio_v} / 100000")
  math(EXPR _minor "${_asio_v} / 100 % 1000")
  math(EXPR _patch "${_asio_v} % 100")
  set(Asio_VERSION "${_major}.${_minor}.${_patch}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Asio REQUIRED_VARS Asio_INCLUDE_DIR VERSION_VAR Asio_VERSION)
if(Asio_FOUND AND NOT TARGET Asio::asio)
  add_library(Asio::asio INTERFACE IMPORTED)
  set_target_properties(Asio::asio PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${Asio_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS "ASIO_STANDALONE;ASIO_NO_DEPRECATED;ASIO_DISABLE_STD_ALIGNED_ALLOC")
  target_link_libraries(Asio::asio INTERFACE Threads::Threads)
endif()
mark_as_advanced(Asio_INCLUDE_DIR)
