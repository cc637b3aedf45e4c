/* workers.c — a run's per-worker sub-namespaces as the subcommands see
 * them: where they live (ROOT/w-NAME/manifest.jsonl, ROOT the run's private
 * directory; core/config.c derives the names) and which there are. */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/trust.h"

int cli_worker_root(const char *manifest_opt, const char *manifest, char *root, size_t len)
{
    struct stat st;
    const char *env = getenv("PORTSHIM_DIR");
    /* Inside a run, reading its own manifest: the run says where. */
    if (!manifest_opt && env && *env) {
        snprintf(root, len, "%s", env);
        return 0;
    }
    /* A manifest named with --manifest keeps its private directory beside it
     * (run's FILE.d); a namespace run created is the directory of its
     * manifest.jsonl. */
    if ((size_t)snprintf(root, len, "%s.d", manifest) < len && lstat(root, &st) == 0 &&
        S_ISDIR(st.st_mode))
        return 0;
    const char *slash = strrchr(manifest, '/');
    if (!slash || strcmp(slash + 1, CLI_MANIFEST_NAME) || (size_t)(slash - manifest) >= len)
        return -1;
    memcpy(root, manifest, (size_t)(slash - manifest));
    root[slash - manifest] = 0;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strverscmp(a, b);
}

/* Only directories of this user that nobody else may open: another user's
 * "w-x" planted in a shared directory is never read as a worker's. */
/* A worker's sub-namespace directory, judged as the library judges it: a
 * directory (not a link) of this user alone, or, in a run with
 * --share-with, one the share's rule allows (its owner's word, as
 * cli_open_manifest reads another user's manifest; never one others may
 * write). The manifest inside is then opened and judged on its own. */
static bool private_dir(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return false;
    if (!S_ISDIR(st.st_mode) || (st.st_mode & 002)) {
        errno = EACCES;
        return false;
    }
    if (st.st_uid == geteuid() && !(st.st_mode & 077))
        return true;
    /* Shared: group bits are for the share's group, the owner its user. */
    struct ps_trust t = {geteuid(), (long)st.st_uid, (long)st.st_gid};
    char why[200];
    if (ps_trust_check(&st, true, &t, why, sizeof why) == PS_TRUST_OK)
        return true;
    errno = EACCES;
    return false;
}

size_t cli_workers_list(const char *root, char (**names)[PS_WORKER_NAME_MAX + 1])
{
    size_t n = 0, cap = 0;
    char path[PATH_MAX];
    *names = NULL;
    DIR *d = opendir(root);
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d));) {
        const char *name = de->d_name + strlen(PS_WORKER_PREFIX);
        if (strncmp(de->d_name, PS_WORKER_PREFIX, strlen(PS_WORKER_PREFIX)) || !*name ||
            strlen(name) > PS_WORKER_NAME_MAX)
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", root, de->d_name) >= sizeof path ||
            !private_dir(path))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *nv = realloc(*names, ncap * sizeof **names);
            if (!nv)
                break;
            *names = nv;
            cap = ncap;
        }
        snprintf((*names)[n++], PS_WORKER_NAME_MAX + 1, "%s", name);
    }
    closedir(d);
    if (n > 1)
        qsort(*names, n, sizeof **names, by_name);
    return n;
}

static int worker_manifest(const char *root, const char *worker, char *out, bool quiet)
{
    char name[PS_WORKER_NAME_MAX + 1], dir[PS_PATH_MAX];
    struct stat st;
    /* The worker as its variable's value ("gw0", "a/b"); or as the name a
     * report shows ("a%2Fb"), when that is a name encoding could give. */
    if (ps_worker_name(worker, name) && strlen(worker) <= PS_WORKER_NAME_MAX &&
        worker[0] != '.' && !strchr(worker, '/') &&
        ps_worker_paths(root, worker, dir, out) == 0 && lstat(out, &st) == 0)
        snprintf(name, sizeof name, "%s", worker);
    if (ps_worker_paths(root, name, dir, out)) {
        cli_log(PS_LOG_ERROR, "worker '%.40s': the path under '%.64s' is too long", worker, root);
        return -1;
    }
    if (!private_dir(dir)) {
        if (quiet && errno == ENOENT)
            return 1;
        cli_log(PS_LOG_ERROR, "worker '%.40s': no sub-namespace %s (%s)", worker, dir,
                errno == ENOENT ? "no process of that worker used a socket"
                                : "not a private directory of this user");
        return -1;
    }
    return 0;
}

int cli_worker_manifest(const char *root, const char *worker, char *out)
{
    return worker_manifest(root, worker, out, false);
}

int cli_worker_manifest_wait(const char *root, const char *worker, char *out)
{
    return worker_manifest(root, worker, out, true);
}

static const char *env_get(const char *name) { return getenv(name); }

const char *cli_manifest_here(const char *opt, bool *sub)
{
    static struct ps_config c;
    static char err[PS_PATH_MAX + 200];
    const char *m = cli_manifest_path(opt);
    *sub = false;
    if (!m || opt)
        return m;
    /* Inside a worker of a --per-worker run: the worker's own sub-namespace,
     * as the library derives it. */
    char note[8];
    if (ps_config_load(&c, env_get, err, sizeof err) == 0 &&
        ps_config_worker(&c, env_get, note, sizeof note, err, sizeof err) == 1) {
        *sub = true;
        return c.manifest;
    }
    return m;
}
