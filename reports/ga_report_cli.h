/* ga_report_cli.h: the scan, merge and train commands as library calls, so that
 * tests run them in-process. argv[0] is the command name; the return value is
 * the process exit status (0 ok, 2 bad input or usage, 3 internal error (a
 * full disk included), 128 + the signal's number, 130 or 143, interrupted by
 * SIGINT or SIGTERM after writing every finished configuration). */
#ifndef GA_REPORT_CLI_H
#define GA_REPORT_CLI_H

#define GA_EXIT_INTERRUPTED 130 /* SIGINT; SIGTERM gives 143 */

int ga_report_scan_main(int argc, char **argv);
int ga_report_merge_main(int argc, char **argv);
int ga_report_train_main(int argc, char **argv);

#endif
