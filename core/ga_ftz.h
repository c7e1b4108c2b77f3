/* ga_ftz.h: the floating-point environment of an -Ofast program, for the
 * code under test built with meson's -Dcore_fast_math=true.
 *
 * GCC links crtfastmath.o into a program linked with -Ofast or -ffast-math;
 * its constructor sets MXCSR's flush-to-zero (FTZ: a result below the
 * smallest normal number becomes 0) and denormals-are-zero (DAZ: a
 * subnormal operand is read as 0) for the whole process (llm.c runs so).
 * gradaudit's own arithmetic must stay IEEE, so the passes set both on entry
 * and put the caller's MXCSR back on return: the code under test computes as
 * in such a program, the checker as in any other. Without the option, or
 * off x86, both macros do nothing. */
#ifndef GA_FTZ_H
#define GA_FTZ_H

#if defined(GA_CORE_FAST_MATH) && defined(__SSE2__)
#include <xmmintrin.h>
#define GA_FTZ_MXCSR 0x8040u /* FTZ (bit 15) | DAZ (bit 6) */
#define GA_FTZ_ENTER(saved) unsigned saved = _mm_getcsr(); _mm_setcsr(saved | GA_FTZ_MXCSR)
#define GA_FTZ_LEAVE(saved) _mm_setcsr(saved)
#else
#define GA_FTZ_ENTER(saved) (void)0
#define GA_FTZ_LEAVE(saved) (void)0
#endif

#endif
