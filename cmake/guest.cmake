# Builds bare-metal RISC-V guests with Debian's riscv64-unknown-elf-gcc, in the same CMake run as
# the host code (the installed SDK's VmftGuest.cmake does the same for a project of its own).
find_program(VMFT_GUEST_CC riscv64-unknown-elf-gcc REQUIRED)

include(${CMAKE_CURRENT_LIST_DIR}/../guest/sdk/cmake/guest-flags.cmake)

get_filename_component(VMFT_GUEST_SDK_DIR ${CMAKE_CURRENT_LIST_DIR}/../guest/sdk ABSOLUTE)
get_filename_component(VMFT_GUEST_ABI_DIR ${CMAKE_CURRENT_LIST_DIR}/../guest/include ABSOLUTE)
# The guest's own network stack (guest/net/vnet.h), for guests on the frame NIC.
get_filename_component(VMFT_GUEST_NET_DIR ${CMAKE_CURRENT_LIST_DIR}/../guest/net ABSOLUTE)
file(GLOB VMFT_GUEST_NET_SOURCES CONFIGURE_DEPENDS ${VMFT_GUEST_NET_DIR}/*.c)
file(GLOB VMFT_GUEST_NET_HEADERS CONFIGURE_DEPENDS ${VMFT_GUEST_NET_DIR}/*.h)
set(VMFT_GUEST_CFLAGS
    ${VMFT_GUEST_ARCH_FLAGS} -O2 -g -fno-common -std=c11
    -Wall -Wextra -Werror=implicit-function-declaration
    -isystem ${VMFT_PICOLIBC_INCLUDE} -I${VMFT_GUEST_ABI_DIR} -I${VMFT_GUEST_SDK_DIR}
    -I${VMFT_GUEST_NET_DIR})
set(VMFT_GUEST_SDK_SOURCES
    ${VMFT_GUEST_SDK_DIR}/crt0.S ${VMFT_GUEST_SDK_DIR}/trap.S
    ${VMFT_GUEST_SDK_DIR}/runtime.c ${VMFT_GUEST_SDK_DIR}/picolibc.c)
set(VMFT_GUEST_SDK_DEPENDS
    ${VMFT_GUEST_SDK_SOURCES} ${VMFT_GUEST_SDK_DIR}/vmft.h ${VMFT_GUEST_SDK_DIR}/link.ld
    ${VMFT_GUEST_ABI_DIR}/vmft/guest/abi.h)

# Every guest, so that a target can depend on all of them (the tests run them by file name).
add_custom_target(guests)

# vmft_add_guest(NAME [BARE] [NET] SOURCES... [DEPENDS files...]) -> ${VMFT_GUEST_DIR}/NAME.elf
# and target guest_NAME, a dependency of the target guests. BARE links only the given sources
# (with the SDK's linker script): for assembly test guests whose every instruction is counted.
# NET links the guest's network stack (guest/net) too.
function(vmft_add_guest name)
  cmake_parse_arguments(ARG "BARE;NET" "" "SOURCES;DEPENDS" ${ARGN})
  set(sdk_sources ${VMFT_GUEST_SDK_SOURCES})
  if(ARG_NET)
    list(APPEND sdk_sources ${VMFT_GUEST_NET_SOURCES})
    list(APPEND ARG_DEPENDS ${VMFT_GUEST_NET_HEADERS})
  endif()
  set(libc ${VMFT_GUEST_LIBC})
  if(ARG_BARE)
    set(sdk_sources)
    set(libc)
  endif()
  set(out ${VMFT_GUEST_DIR}/${name}.elf)
  set(sources)
  foreach(src ${ARG_SOURCES})
    get_filename_component(abs ${src} ABSOLUTE)
    list(APPEND sources ${abs})
  endforeach()
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VMFT_GUEST_DIR}
    COMMAND ${VMFT_GUEST_CC} ${VMFT_GUEST_CFLAGS} -nostdlib -static
            -T ${VMFT_GUEST_SDK_DIR}/link.ld -o ${out} ${sdk_sources} ${sources}
            ${libc} ${VMFT_GUEST_LIBGCC}
    DEPENDS ${sources} ${ARG_DEPENDS} ${VMFT_GUEST_SDK_DEPENDS}
    COMMENT "Building guest ${name}.elf"
    VERBATIM)
  add_custom_target(guest_${name} ALL DEPENDS ${out})
  add_dependencies(guests guest_${name})
endfunction()
