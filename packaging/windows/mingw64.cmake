# Cross-compiling for 64-bit Windows with Debian's mingw-w64 (g++-mingw-w64-x86-64-posix).
#
# Used for the dependencies (packaging/windows/build-deps.sh), for zoneproxy.exe and
# zoneproxyctl.exe (bash packaging/dev.sh windows) and for the service layer project in
# daemon/windows/. ZP_WINDOWS_PREFIX (a cache variable or the environment variable of the
# same name) is the prefix the dependencies were installed into; find_package and
# find_library look there and in mingw-w64's own sysroot, never in the Linux /usr.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(ZP_MINGW_TRIPLE x86_64-w64-mingw32)

# The POSIX thread model: std::thread, std::mutex and std::condition_variable (asio,
# abseil and the daemon use them), as MSYS2's compilers do.
set(CMAKE_C_COMPILER ${ZP_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${ZP_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${ZP_MINGW_TRIPLE}-windres)
set(CMAKE_AR ${ZP_MINGW_TRIPLE}-gcc-ar-posix CACHE FILEPATH "")
set(CMAKE_RANLIB ${ZP_MINGW_TRIPLE}-gcc-ranlib-posix CACHE FILEPATH "")
set(ZP_WINDMC ${ZP_MINGW_TRIPLE}-windmc)

if(NOT ZP_WINDOWS_PREFIX AND DEFINED ENV{ZP_WINDOWS_PREFIX})
  set(ZP_WINDOWS_PREFIX $ENV{ZP_WINDOWS_PREFIX})
endif()
# try_compile projects re-read this file without the cache: hand the prefix on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ZP_WINDOWS_PREFIX)
set(CMAKE_FIND_ROOT_PATH /usr/${ZP_MINGW_TRIPLE} ${ZP_WINDOWS_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Static libraries only: the .exe carries everything but the system DLLs.
set(CMAKE_FIND_LIBRARY_SUFFIXES .a)
