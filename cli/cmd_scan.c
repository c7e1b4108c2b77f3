/* gradaudit scan, train and merge: thin wrappers over reports/ga_report_cli.h,
 * where the commands live so that the reports suites can run them in-process. */
#include "ga_cli.h"
#include "ga_report_cli.h"

int ga_cmd_scan(int argc, char **argv)
{
    return ga_report_scan_main(argc, argv);
}

int ga_cmd_train(int argc, char **argv)
{
    return ga_report_train_main(argc, argv);
}

int ga_cmd_merge(int argc, char **argv)
{
    return ga_report_merge_main(argc, argv);
}
