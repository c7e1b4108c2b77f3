/* ga_csv.h: the CSV every gradaudit file uses (RFC 4180 fields, '.' decimals):
 * one line ending, LF, for the check, audit, tutorial, scan and norms files.
 * A field holding a comma, a quote, CR or LF is quoted, its quotes doubled. */
#ifndef GA_CSV_H
#define GA_CSV_H

#include <stdio.h>

#define GA_CSV_EOL "\n"

/* Writes s as one CSV field (quoted when it must be); 0, or -1 on a write error. */
int ga_csv_field(FILE *f, const char *s);
/* Ends a row; 0, or -1 on a write error. */
int ga_csv_end_row(FILE *f);

#endif
