# Cross-compiling the Windows service layer with Debian's mingw-w64 (g++-mingw-w64-x86-64).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(ZP_MINGW_PREFIX x86_64-w64-mingw32)
# The POSIX thread model: the daemon uses std::thread and std::mutex (as MSYS2 builds do).
set(CMAKE_CXX_COMPILER ${ZP_MINGW_PREFIX}-g++-posix)
set(CMAKE_RC_COMPILER ${ZP_MINGW_PREFIX}-windres)
set(ZP_WINDMC ${ZP_MINGW_PREFIX}-windmc)
set(CMAKE_FIND_ROOT_PATH /usr/${ZP_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
