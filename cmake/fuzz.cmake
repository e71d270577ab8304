# -DVMFT_FUZZ=ON (with clang) builds the libFuzzer targets in fuzz/: every library gets
# libFuzzer's coverage instrumentation and ASan+UBSan, so a decoder's bugs show wherever they
# happen. scripts/fuzz configures such a build in build-fuzz/. Off, fuzz/ still builds the test
# that replays the kept inputs through the same entry functions.
option(VMFT_FUZZ "Build the libFuzzer targets in fuzz/ (needs clang)" OFF)
if(VMFT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VMFT_FUZZ needs clang: configure with "
                        "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Any UBSan finding stops the run, so libFuzzer reports it as a crash with its input.
  set(VMFT_FUZZ_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=all)
  add_compile_options(-fsanitize=fuzzer-no-link ${VMFT_FUZZ_SANITIZERS} -fno-omit-frame-pointer)
  add_link_options(${VMFT_FUZZ_SANITIZERS})
endif()
