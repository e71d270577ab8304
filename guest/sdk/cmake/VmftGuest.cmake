# vmft_add_guest for projects configured with the SDK's toolchain file (toolchain.cmake):
#   vmft_add_guest(NAME [NET] SOURCES file...)
# builds the executable NAME.elf, a guest for `vmft run NAME.elf`: the sources with the SDK
# (crt0, trap vector, runtime, picolibc glue), picolibc and libgcc, laid out by the SDK's
# linker script. NET adds the guest's own network stack (net/vnet.h), for the frame NIC.
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

# The SDK itself, compiled once per project; an object library, so that every part is linked
# whether or not something refers to it (crt0's _start, the trap vector).
add_library(vmft_sdk OBJECT
  ${VMFT_SDK_DIR}/crt0.S ${VMFT_SDK_DIR}/trap.S ${VMFT_SDK_DIR}/runtime.c
  ${VMFT_SDK_DIR}/picolibc.c)
target_compile_options(vmft_sdk PRIVATE -O2 -g -Wall -Wextra)

file(GLOB _vmft_net_sources ${VMFT_SDK_DIR}/net/*.c)
add_library(vmft_net OBJECT ${_vmft_net_sources})
target_include_directories(vmft_net PUBLIC ${VMFT_SDK_DIR}/net)
target_compile_options(vmft_net PRIVATE -O2 -g -Wall -Wextra)

function(vmft_add_guest name)
  cmake_parse_arguments(ARG "NET" "" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "vmft_add_guest(${name}) has no SOURCES")
  endif()
  add_executable(${name} ${ARG_SOURCES})
  set_target_properties(${name} PROPERTIES SUFFIX .elf
    LINK_DEPENDS ${VMFT_SDK_DIR}/link.ld)
  target_link_options(${name} PRIVATE -T ${VMFT_SDK_DIR}/link.ld)
  target_link_libraries(${name} PRIVATE vmft_sdk)
  if(ARG_NET)
    target_link_libraries(${name} PRIVATE vmft_net)
  endif()
endfunction()
