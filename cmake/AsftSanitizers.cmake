# -DASFT_SANITIZE=address,undefined builds the native targets with those sanitizers
# (for the ctest binary; never for the library that goes into the jar).
set(ASFT_SANITIZE "" CACHE STRING "Comma-separated sanitizers for native targets (e.g. address,undefined)")
function(asft_sanitize target)
  if(ASFT_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${ASFT_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${ASFT_SANITIZE})
  endif()
endfunction()
