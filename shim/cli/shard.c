/* shard.c — the shard this `portshim stress` runs: --shard/--shards and the
 * CI engines' variables, resolved by core/shard.c. */
#include "cli/stress.h"

#include <stdlib.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/shard.h"

int shard_resolve(const char *opt, const char *total, struct shard *out)
{
    struct ps_shard_src src = {opt, total, getenv("CI_NODE_INDEX"), getenv("CI_NODE_TOTAL"),
                               getenv("JOB_COMPLETION_INDEX")};
    struct ps_shard s;
    char err[256];
    if (ps_shard_resolve(&src, &s, &out->from, err, sizeof err)) {
        cli_log(PS_LOG_ERROR, "%s", err);
        return -1;
    }
    out->k = s.k;
    out->n = s.n;
    return 0;
}
