# Builds bare-metal RISC-V guests with Debian's riscv64-unknown-elf-gcc, in the same CMake run as
# the host code (the installed SDK's VmftGuest.cmake does the same for a project of its own).
find_program(VMFT_GUEST_CC riscv64-unknown-elf-gcc REQUIRED)

include(${CMAKE_CURRENT_LIST_DIR}/../guest/sdk/cmake/guest-flags.cmake)

get_filename_component(VMFT_GUEST_SDK_DIR ${CMAKE_CURRENT_LIST_DIR}/../guest/sdk ABSOLUTE)
get_filename_component(VMFT_GUEST_ABI_DIR ${CMAKE_CURRENT_LIST_DIR}/../guest/include ABSOLUTE)
# VMFT_GUEST_AR: Debian's binutils-riscv64-unknown-elf, which gcc-riscv64-unknown-elf depends on.
find_program(VMFT_GUEST_AR riscv64-unknown-elf-ar REQUIRED)
# The guest's own network stack (guest/net/vnet.h), under the SDK's serving calls (serve.c).
get_filename_component(VMFT_GUEST_NET_DIR ${CMAKE_CURRENT_LIST_DIR}/../guest/net ABSOLUTE)
file(GLOB VMFT_GUEST_NET_SOURCES CONFIGURE_DEPENDS ${VMFT_GUEST_NET_DIR}/*.c)
file(GLOB VMFT_GUEST_NET_HEADERS CONFIGURE_DEPENDS ${VMFT_GUEST_NET_DIR}/*.h)
set(VMFT_GUEST_CFLAGS
    ${VMFT_GUEST_ARCH_FLAGS} -O2 -g -fno-common -std=c11
    -Wall -Wextra -Werror=implicit-function-declaration
    -isystem ${VMFT_PICOLIBC_INCLUDE} -I${VMFT_GUEST_ABI_DIR} -I${VMFT_GUEST_SDK_DIR}
    -I${VMFT_GUEST_NET_DIR})
set(VMFT_GUEST_SDK_HEADERS
    ${VMFT_GUEST_SDK_DIR}/vmft.h ${VMFT_GUEST_ABI_DIR}/vmft/guest/abi.h ${VMFT_GUEST_NET_HEADERS})

# The SDK, compiled once for every guest: the objects every guest links whole (crt0's _start,
# the trap vector, the runtime, picolibc's glue, the word-at-a-time string.c), and an archive of the rest, from which a
# guest links only what it calls: the serving calls and the network stack only into servers.
set(sdk_build ${VMFT_GUEST_DIR}/sdk)
function(_vmft_guest_objects out_var)
  set(objects)
  foreach(src ${ARGN})
    get_filename_component(name ${src} NAME_WE)
    set(obj ${sdk_build}/${name}.o)
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${sdk_build}
      COMMAND ${VMFT_GUEST_CC} ${VMFT_GUEST_CFLAGS} -c ${src} -o ${obj}
      DEPENDS ${src} ${VMFT_GUEST_SDK_HEADERS}
      VERBATIM)
    list(APPEND objects ${obj})
  endforeach()
  set(${out_var} ${objects} PARENT_SCOPE)
endfunction()
_vmft_guest_objects(VMFT_GUEST_SDK_OBJECTS
  ${VMFT_GUEST_SDK_DIR}/crt0.S ${VMFT_GUEST_SDK_DIR}/trap.S
  ${VMFT_GUEST_SDK_DIR}/runtime.c ${VMFT_GUEST_SDK_DIR}/picolibc.c
  ${VMFT_GUEST_SDK_DIR}/string.c)
_vmft_guest_objects(sdk_archive_objects ${VMFT_GUEST_SDK_DIR}/serve.c ${VMFT_GUEST_NET_SOURCES})
set(VMFT_GUEST_SDK_ARCHIVE ${sdk_build}/libvmft.a)
add_custom_command(
  OUTPUT ${VMFT_GUEST_SDK_ARCHIVE}
  COMMAND ${CMAKE_COMMAND} -E rm -f ${VMFT_GUEST_SDK_ARCHIVE}
  COMMAND ${VMFT_GUEST_AR} rcs ${VMFT_GUEST_SDK_ARCHIVE} ${sdk_archive_objects}
  DEPENDS ${sdk_archive_objects}
  VERBATIM)
# One target builds them (commands shared by targets that build in parallel would race); each
# guest waits for it, and relinks when a file of it changes.
add_custom_target(guest_sdk DEPENDS ${VMFT_GUEST_SDK_OBJECTS} ${VMFT_GUEST_SDK_ARCHIVE})
set(VMFT_GUEST_SDK_DEPENDS
    ${VMFT_GUEST_SDK_OBJECTS} ${VMFT_GUEST_SDK_ARCHIVE} ${VMFT_GUEST_SDK_HEADERS}
    ${VMFT_GUEST_SDK_DIR}/link.ld)

# Every guest, so that a target can depend on all of them (the tests run them by file name).
add_custom_target(guests)

# vmft_add_guest(NAME [BARE] SOURCES... [DEPENDS files...] [DEFINES NAME=VALUE...])
# -> ${VMFT_GUEST_DIR}/NAME.elf and target guest_NAME, a dependency of the target guests. BARE
# links only the given sources (with the SDK's linker script): for assembly test guests whose
# every instruction is counted. DEFINES: for the guest's sources, as -D.
function(vmft_add_guest name)
  cmake_parse_arguments(ARG "BARE" "" "SOURCES;DEPENDS;DEFINES" ${ARGN})
  set(sdk ${VMFT_GUEST_SDK_OBJECTS})
  set(libs ${VMFT_GUEST_SDK_ARCHIVE} ${VMFT_GUEST_LIBC})
  if(ARG_BARE)
    set(sdk)
    set(libs)
  endif()
  set(out ${VMFT_GUEST_DIR}/${name}.elf)
  set(defines)
  foreach(define ${ARG_DEFINES})
    list(APPEND defines -D${define})
  endforeach()
  set(sources)
  foreach(src ${ARG_SOURCES})
    get_filename_component(abs ${src} ABSOLUTE)
    list(APPEND sources ${abs})
  endforeach()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VMFT_GUEST_DIR}
    COMMAND ${VMFT_GUEST_CC} ${VMFT_GUEST_CFLAGS} ${defines} -nostdlib -static
            -T ${VMFT_GUEST_SDK_DIR}/link.ld -o ${out} ${sdk} ${sources}
            ${libs} ${VMFT_GUEST_LIBGCC}
    DEPENDS ${sources} ${ARG_DEPENDS} ${VMFT_GUEST_SDK_DEPENDS}
    COMMENT "Building guest ${name}.elf"
    VERBATIM)
  add_custom_target(guest_${name} ALL DEPENDS ${out})
  add_dependencies(guest_${name} guest_sdk)
  add_dependencies(guests guest_${name})
endfunction()
