/* test_op_kernels_f32.h: test_op_kernels.h compiled for float32 (every name
 * ending _f32), its macros undefined again after it so that another instance
 * may follow. The includer defines MAXW, MAXT and enum bug first (as
 * test_op.c does). The kernels a file does not call are no warning. */
#define REAL float
#define FN(name) name##_f32
#define SQRT sqrtf
#define EXP expf
#define ERFC erfcf
#define TANH tanhf
#define COSH coshf
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_op_kernels.h"
#pragma GCC diagnostic pop
#undef REAL
#undef FN
#undef SQRT
#undef EXP
#undef ERFC
#undef TANH
#undef COSH
#undef GELU_C
