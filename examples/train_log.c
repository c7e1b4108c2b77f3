/* train_log: trains the example MLP (train_mlp.h) and logs its gradient norms
 * to a CSV through gradaudit's API.
 *
 *   train_log OUT.csv [normal|explode|vanish]
 *
 * The three configurations are tm_example_config's. Exit 0 when it ran, 2 for
 * bad arguments, 3 when logging failed. */
#include <stdio.h>
#include <string.h>

#include "train_mlp.h"

int main(int argc, char **argv)
{
    const char *which = argc > 2 ? argv[2] : "normal";
    if (argc < 2 || argc > 3 ||
        (strcmp(which, "normal") && strcmp(which, "explode") && strcmp(which, "vanish"))) {
        fprintf(stderr, "usage: train_log OUT.csv [normal|explode|vanish]\n");
        return 2;
    }
    tm_config c;
    tm_example_config(&c, which);
    gradaudit_error err;
    if (tm_train(&err, &c, argv[1], NULL, NULL, NULL) != GRADAUDIT_OK) {
        fprintf(stderr, "train_log: %s\n", err.msg);
        return 3;
    }
    printf("train_log %s: %zu steps logged to %s\n", which, c.steps, argv[1]);
    return 0;
}
