# vmft_add_guest for projects configured with the SDK's toolchain file (toolchain.cmake):
#   vmft_add_guest(NAME SOURCES file...)
# builds the executable NAME.elf, a guest for `vmft run NAME.elf`: the sources with the SDK
# (crt0, trap vector, runtime, picolibc glue; the serving calls and the network stack, net/vnet.h,
# for guests that use them), picolibc and libgcc, laid out by the SDK's linker script.
# NAME is an ordinary executable target: target_include_directories, target_link_libraries
# and the like work on it. The toolchain file puts picolibc's headers and vmft.h before every
# target's sources.
include_guard(GLOBAL)

if(NOT CMAKE_SYSTEM_PROCESSOR STREQUAL "riscv64" OR NOT DEFINED VMFT_GUEST_ARCH_FLAGS)
  message(FATAL_ERROR "VmftGuest needs the vmft SDK's toolchain file: cmake "
                      "-DCMAKE_TOOLCHAIN_FILE=${CMAKE_CURRENT_LIST_DIR}/toolchain.cmake")
endif()
enable_language(C)
enable_language(ASM)

get_filename_component(VMFT_SDK_DIR ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

# The SDK itself, compiled once per project: an object library of what every guest links whole
# (crt0's _start, the trap vector, the runtime, picolibc's glue, memcpy and friends), and an archive of the rest, of
# which a guest links only what it calls: the serving calls and the network stack only into
# servers.
add_library(vmft_sdk OBJECT
  ${VMFT_SDK_DIR}/crt0.S ${VMFT_SDK_DIR}/trap.S ${VMFT_SDK_DIR}/runtime.c
  ${VMFT_SDK_DIR}/picolibc.c ${VMFT_SDK_DIR}/string.c)
target_compile_options(vmft_sdk PRIVATE -O2 -g -Wall -Wextra)

file(GLOB _vmft_net_sources ${VMFT_SDK_DIR}/net/*.c)
add_library(vmft_serve STATIC ${VMFT_SDK_DIR}/serve.c ${_vmft_net_sources})
target_include_directories(vmft_serve PUBLIC ${VMFT_SDK_DIR}/net)
target_compile_options(vmft_serve PRIVATE -O2 -g -Wall -Wextra)

function(vmft_add_guest name)
  cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "vmft_add_guest(${name}) has no SOURCES")
  endif()
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES SUFFIX .elf
    LINK_DEPENDS ${VMFT_SDK_DIR}/link.ld)
  target_link_options(${name} PRIVATE -T ${VMFT_SDK_DIR}/link.ld)
  target_link_libraries(${name} PRIVATE vmft_sdk vmft_serve)
endfunction()
