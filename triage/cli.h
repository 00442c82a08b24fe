/* `sigmaproxy triage ...`: a person's tool over the triage queue (SPEC.md "Triage queue"): list,
 * show, claim and label the flagged items of the Redis stream sigmaproxy:flagged, export them
 * with their human labels, and measure each scorer's precision against those labels. */
#ifndef SIGMAPROXY_TRIAGE_CLI_H
#define SIGMAPROXY_TRIAGE_CLI_H

/* Where the reviewers' verdicts go: one entry per `label` (fields id, entry, label, scorer, note,
 * by, ts, flagged). */
#define TRIAGE_CLI_LABELS_STREAM "sigmaproxy:labels"

/* Exit statuses, also listed in every --help. */
enum triage_cli_status {
    TRIAGE_CLI_OK = 0,
    TRIAGE_CLI_NOTHING = 1, /* unknown ID, no item matches, nothing to claim, export or count */
    TRIAGE_CLI_USAGE = 2,   /* bad command line */
    TRIAGE_CLI_REDIS = 3,   /* Redis unreachable or answering with an error */
    TRIAGE_CLI_IO = 4,      /* the output (export file, stdout) cannot be written */
};

/* Runs `sigmaproxy triage ARG...` (argv[0] is "triage"): prints results to stdout and any error
 * as one line to stderr, and returns the process exit status (enum triage_cli_status). Thread:
 * main, before config_load and before any other thread exists; blocks on Redis with timeouts. */
int triage_cli_main(int argc, char **argv);

#endif
