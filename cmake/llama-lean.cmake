# Included by llama.cpp's own project() call while llama-cpp-python is built
# (make setup passes -DCMAKE_PROJECT_llama.cpp_INCLUDE=<this file>).
#
# llama-cpp-python's CMakeLists forces LLAMA_BUILD_COMMON on (a cache entry set with FORCE, so
# -DLLAMA_BUILD_COMMON=OFF on the command line is overridden). Its Python package loads only libllama
# and the libggml* it links, plus libmtmd for images, which make setup leaves out (LLAVA_BUILD=OFF):
# nothing loads libllama-common. A normal variable set here hides the cache entry for llama.cpp's
# directory, so neither the common library nor the HTTP library only it uses is compiled: about
# 50 of the 178 objects of the full build.
set(LLAMA_BUILD_COMMON OFF)
