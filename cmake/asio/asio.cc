// asio's compiled parts (its .ipp files), built once here instead of inline in every file that
// includes asio: ASIO_SEPARATE_COMPILATION, set on the asio target in CMakeLists.txt.
#include <asio/impl/src.hpp>
