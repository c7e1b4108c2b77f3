/* ga_csv.c: CSV fields and rows (ga_csv.h). */
#include <string.h>

#include "ga_csv.h"

int ga_csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL)
        return fputs(s, f) < 0 ? -1 : 0;
    if (fputc('"', f) == EOF)
        return -1;
    for (; *s; s++) {
        if (*s == '"' && fputc('"', f) == EOF)
            return -1;
        if (fputc(*s, f) == EOF)
            return -1;
    }
    return fputc('"', f) == EOF ? -1 : 0;
}

int ga_csv_end_row(FILE *f)
{
    return fputs(GA_CSV_EOL, f) < 0 ? -1 : 0;
}
