// Placeholder until the reader is written.
#include "gguf/gguf.h"
