/* Internal invariants.
 *
 * Owns: LB_ASSERT, the check of a condition that only a bug in lorabert can break (an index
 * inside a buffer it sized, a state machine's state). Why: SQLite's habit — invariants written
 * down where they hold, checked while testing, free in production. Guarantees: with
 * LB_ASSERTS defined (the debug and asan builds) a false condition prints file, line, function
 * and the expression on stderr and aborts, so the sanitizer or the test runner shows where; in
 * release builds the expression is not evaluated. Never for user input: that is an error with a
 * message (lb_err). */
#ifndef LB_BASE_ASSERT_H
#define LB_BASE_ASSERT_H

#ifdef LB_ASSERTS
_Noreturn void lb_assert_fail(const char *expr, const char *file, int line, const char *func);
#define LB_ASSERT(cond) ((cond) ? (void)0 : lb_assert_fail(#cond, __FILE__, __LINE__, __func__))
#else
#define LB_ASSERT(cond) ((void)0)
#endif

#endif
