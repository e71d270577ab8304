# CMake toolchain file for vmft guests: bare-metal RISC-V (RV64IM + Zicsr) with Debian's
# riscv64-unknown-elf-gcc. Configure a guest project with
#   cmake -DCMAKE_TOOLCHAIN_FILE=PREFIX/share/vmft/sdk/cmake/toolchain.cmake -S . -B build
# and in its CMakeLists.txt:
#   include(VmftGuest)
#   vmft_add_guest(myguest SOURCES main.c)
# docs/guests.md is the guide.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv64)

find_program(VMFT_GUEST_CC riscv64-unknown-elf-gcc)
if(NOT VMFT_GUEST_CC)
  message(FATAL_ERROR "vmft guests need riscv64-unknown-elf-gcc: "
                      "apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf")
endif()
set(CMAKE_C_COMPILER ${VMFT_GUEST_CC})
set(CMAKE_ASM_COMPILER ${VMFT_GUEST_CC})
# There is no hosted libc to link a test program against: check the compiler with a library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

include(${CMAKE_CURRENT_LIST_DIR}/guest-flags.cmake)
list(JOIN VMFT_GUEST_ARCH_FLAGS " " _vmft_arch)
set(CMAKE_C_FLAGS_INIT "${_vmft_arch}")
set(CMAKE_ASM_FLAGS_INIT "${_vmft_arch}")
set(CMAKE_BUILD_TYPE_INIT RelWithDebInfo)
# Every target's C sees picolibc's headers and the SDK's (vmft.h), as a hosted compiler sees its
# libc's.
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES
    ${VMFT_PICOLIBC_INCLUDE} ${CMAKE_CURRENT_LIST_DIR}/../include)
set(CMAKE_ASM_STANDARD_INCLUDE_DIRECTORIES ${CMAKE_C_STANDARD_INCLUDE_DIRECTORIES})
# ... and links statically against picolibc and the rv64im/lp64 libgcc, last on the line.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static")
set(CMAKE_C_STANDARD_LIBRARIES "${VMFT_GUEST_LIBC} ${VMFT_GUEST_LIBGCC}")

# Programs run on the host; headers and libraries are the guest's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
list(APPEND CMAKE_MODULE_PATH ${CMAKE_CURRENT_LIST_DIR})
