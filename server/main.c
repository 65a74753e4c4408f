/*
 * main.c - rasfleet-collector command line: `serve` (the default) runs the
 * collector in the foreground; `token add|list|revoke` manages agent and
 * reader tokens in the database; `migrate` copies a SQLite database into
 * PostgreSQL (migrate.c). See `rasfleet-collector --help`.
 */
#include "analyzer.h"
#include "api.h"
#include "auth.h"
#include "fleet.h"
#include "config.h"
#include "dburl.h"
#include "json_scratch.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "pg_election.h"
#include "pg_store.h"
#include "pg_tail.h"
#include "pg_tokens.h"
#include "rasfleet/result.h"
#include "readstore.h"
#include "store.h"
#include "writer.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: rasfleet-collector [serve] [options]\n"
            "       rasfleet-collector token add --role agent|reader [--name NAME] [options]\n"
            "       rasfleet-collector token list [options]\n"
            "       rasfleet-collector token revoke ID [options]\n"
            "       rasfleet-collector migrate --from FILE.db --db postgresql://...\n"
            "\n"
            "options:\n"
            "  --config FILE          settings file (key = value; see "
            "deploy/rasfleet.conf.example)\n"
            "  --listen HOST:PORT     address to serve on (default 127.0.0.1:8080)\n"
            "  --db FILE|URL          SQLite file (default data/rasfleet.db; also sqlite:PATH)\n"
            "                         or postgresql://user:pass@host:port/db (docs/storage.md)\n"
            "  --web-dir DIR          dashboard files (default: the installed web/)\n"
            "  --retention-days N     delete telemetry older than N days (default 90, 0 = "
            "never)\n"
            "  --rollup-retention-days N\n"
            "                         keep N days of daily rollups, the longest window the\n"
            "                         API answers (default 400, 0 = forever)\n"
            "  --threads N            HTTP worker threads (default 2)\n"
            "  --pg-refresh-ms N      PostgreSQL: apply other collectors' rows every N ms\n"
            "                         (default 2000; docs/storage.md)\n"
            "  --max-db-bytes N       refuse writes (503) past this database size\n"
            "  --port-file FILE       write the bound port there once listening\n"
            "  --log-level LEVEL      debug, info, warn or error\n"
            "  --tls-cert FILE        serve HTTPS (TLS 1.2+) with this PEM certificate chain\n"
            "  --tls-key FILE         ... and this PEM private key\n"
            "  --admin-token-file F   read the admin token from F; SIGHUP re-reads it\n"
            "  --version, --help\n"
            "\n"
            "The admin token comes from RASFLEET_ADMIN_TOKEN or admin_token in the config.\n");
}

struct cli {
    struct config cfg;
    const char *port_file;
    const char *role;
    const char *name;
    const char *from; /* migrate: the SQLite file */
};

static int load_config_arg(int argc, char **argv, struct config *cfg)
{
    char err[512];
    for (int i = 1; i < argc - 1; i++) {
        if (strcmp(argv[i], "--config") == 0 &&
            config_load_file(cfg, argv[i + 1], err, sizeof(err)) != RF_OK) {
            fprintf(stderr, "rasfleet-collector: %s\n", err);
            return 2;
        }
    }
    const char *env = getenv("RASFLEET_ADMIN_TOKEN");
    if (env && *env && config_set(cfg, "admin_token", env, err, sizeof(err)) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: RASFLEET_ADMIN_TOKEN must be at least 16 characters\n");
        return 2;
    }
    return 0;
}

/* Parses flags from argv[first..]; positional arguments are left in
 * argv[optind..]. Returns 0, or an exit code. */
static int parse_flags(int argc, char **argv, struct cli *cli)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"db", required_argument, NULL, 'd'},
        {"web-dir", required_argument, NULL, 'w'},
        {"retention-days", required_argument, NULL, 'r'},
        {"rollup-retention-days", required_argument, NULL, 'o'},
        {"threads", required_argument, NULL, 't'},
        {"max-db-bytes", required_argument, NULL, 'm'},
        {"port-file", required_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, 'L'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"admin-token-file", required_argument, NULL, 'A'},
        {"pg-refresh-ms", required_argument, NULL, 'P'},
        {"role", required_argument, NULL, 'R'},
        {"name", required_argument, NULL, 'n'},
        {"from", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        int opt;
        const char *key;
    } keys[] = {{'l', "listen"},         {'d', "db"},      {'w', "web_dir"},
                {'r', "retention_days"}, {'t', "threads"}, {'m', "max_db_bytes"},
                {'L', "log_level"},      {'C', "tls_cert"}, {'K', "tls_key"},
                {'A', "admin_token_file"}, {'o', "rollup_retention_days"},
                {'P', "pg_refresh_ms"}};
    int c;
    char err[512];
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        bool handled = false;
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (keys[i].opt == c) {
                if (config_set(&cli->cfg, keys[i].key, optarg, err, sizeof(err)) != RF_OK) {
                    fprintf(stderr, "rasfleet-collector: %s\n", err);
                    return 2;
                }
                handled = true;
            }
        }
        if (handled || c == 'c')
            continue;
        switch (c) {
        case 'p':
            cli->port_file = optarg;
            break;
        case 'R':
            cli->role = optarg;
            break;
        case 'n':
            cli->name = optarg;
            break;
        case 'F':
            cli->from = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("rasfleet-collector %s\n", RF_VERSION);
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

static int ensure_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return RF_ENOMEM;
    const char *dir = dirname(copy);
    int rc = RF_OK;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        rc = RF_EIO;
    free(copy);
    return rc;
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return RF_EIO;
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return RF_EIO;
    return RF_OK;
}

static void on_commit(void *arg, const struct rf_batch *const *batches,
                      const uint8_t *const *inserted, size_t n, int64_t now_ms)
{
    fleet_apply(arg, batches, inserted, n, now_ms);
}

/* The hot aggregate's freshness on PostgreSQL, in /metrics and /healthz. */
static int tail_metrics(void *arg, struct buf *b)
{
    return pg_tail_metrics(arg, b);
}

static int tail_health(void *arg, struct buf *b)
{
    return pg_tail_health(arg, b);
}

/* The IPsec baseline: the one saved through the admin API wins over the
 * config file's ipsec_baseline ("default" or cipher/auth/enc/integrity/dh/pfs). */
static int load_baseline(const struct config *cfg, struct fleet *fleet)
{
    struct rf_arena a;
    struct ipsec_baseline bl = {0};
    char err[200] = "";
    struct readstore *rs = NULL;
    struct rs_rows *st = NULL;
    struct rs_arg key = RS_TEXT("ipsec_baseline");
    rf_arena_init(&a);
    int rc = readstore_open(cfg->db_path, &rs, err, sizeof(err));
    if (rc == RF_OK && (rc = readstore_query(rs, RS_SETTING, &key, 1, &st)) != RF_OK)
        snprintf(err, sizeof(err), "cannot read the saved baseline");
    if (rc == RF_OK && rs_next(st, &rc)) {
        const char *json = rs_text(st, 0);
        rc = api_parse_baseline(json ? json : "", json ? strlen(json) : 0, &a, &bl, err,
                                sizeof(err));
    } else if (rc != RF_OK) {
        /* reported below */
    } else if (strcmp(cfg->ipsec_baseline, "default") == 0) {
        bl.configured = true;
    } else if (cfg->ipsec_baseline[0]) {
        char *copy = rf_arena_strdup(&a, cfg->ipsec_baseline), *save = NULL;
        const char **dst[] = {&bl.policy.cipher_transform, &bl.policy.auth_transform,
                              &bl.policy.encryption_method, &bl.policy.integrity_check_method,
                              &bl.policy.dh_group, &bl.policy.pfs_group};
        size_t k = 0;
        for (char *tok = copy ? strtok_r(copy, "/", &save) : NULL; tok && k < 6;
             tok = strtok_r(NULL, "/", &save))
            *dst[k++] = tok;
        if (k != 6) {
            snprintf(err, sizeof(err), "ipsec_baseline needs six names separated by '/'");
            rc = RF_EFORMAT;
        }
        bl.configured = bl.server_custom = true;
    }
    rs_close(st);
    readstore_close(rs);
    if (rc == RF_OK && bl.configured)
        rc = fleet_set_baseline(fleet, &bl);
    if (rc != RF_OK)
        fprintf(stderr, "rasfleet-collector: IPsec baseline: %s\n", err[0] ? err : "invalid");
    rf_arena_free(&a);
    return rc;
}

/* Reads the admin token from admin_token_file (first line, trimmed). */
static int read_admin_token_file(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return RF_EIO;
    int rc = fgets(out, (int)len, f) ? RF_OK : RF_EFORMAT;
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return rc == RF_OK && strlen(out) >= 16 ? RF_OK : RF_EFORMAT;
}

/* SIGHUP: rotate the admin token without a restart. */
static void reload_admin_token(struct config *cfg, struct auth *auth)
{
    char token[256];
    if (!cfg->admin_token_file[0]) {
        log_warn("SIGHUP: no admin_token_file configured; nothing to reload");
        return;
    }
    if (read_admin_token_file(cfg->admin_token_file, token, sizeof(token)) != RF_OK) {
        log_error("SIGHUP: %s is unreadable or holds a token shorter than 16 characters; the"
                  " current admin token stays",
                  cfg->admin_token_file);
        return;
    }
    auth_set_admin(auth, token);
    memset(token, 0, sizeof(token));
    log_info("SIGHUP: admin token rotated from %s", cfg->admin_token_file);
}

static int cmd_serve(struct cli *cli)
{
    struct config *cfg = &cli->cfg;
    struct auth *auth = NULL;
    struct writer *writer = NULL;
    struct http_server *http = NULL;
    struct pg_tail *tail = NULL;
    struct fleet fleet;
    struct analyzer analyzer;
    struct api api = {0};
    struct pg_election *election = NULL;
    sqlite3 *rodb = NULL;
    bool have_fleet = false;
    char err[512] = "";
    int exit_code = 1;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* threads inherit: only sigwait sees them */
    signal(SIGPIPE, SIG_IGN);

    if (cfg->admin_token_file[0] &&
        read_admin_token_file(cfg->admin_token_file, cfg->admin_token, sizeof(cfg->admin_token)) !=
            RF_OK) {
        fprintf(stderr, "rasfleet-collector: cannot read a token of 16+ characters from %s\n",
                cfg->admin_token_file);
        goto out;
    }
    if (!cfg->admin_token[0])
        log_warn("no admin token configured (RASFLEET_ADMIN_TOKEN): only tokens created with"
                 " `rasfleet-collector token add` can be used");
    if (auth_create(cfg->admin_token[0] ? cfg->admin_token : NULL, &auth) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: cannot set up authentication\n");
        goto out;
    }
    bool pg = dburl_is_postgres(cfg->db_path);
    char db_shown[sizeof(cfg->db_path)];
    dburl_redact(cfg->db_path, db_shown, sizeof(db_shown));
    if (!pg && ensure_parent_dir(cfg->db_path) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: cannot create the folder of %s\n", cfg->db_path);
        goto out;
    }
    struct writer_config wc = {
        .db_path = cfg->db_path,
        .queue_batches = cfg->queue_batches,
        .queue_bytes = cfg->queue_bytes,
        .group_records = cfg->group_records,
        .retention_days = cfg->retention_days,
        .rollup_retention_days = cfg->rollup_retention_days,
        .max_db_bytes = cfg->max_db_bytes,
        .retention_interval_s = 60,
        .group_wait_ms = (int)cfg->group_wait_ms,
    };
    struct fleet_config fc = {.horizon_days = cfg->hot_days};
    struct analyzer_config ac;
    analyzer_config_defaults(&ac);
    if (fleet_init(&fleet, &fc) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: out of memory for the hot aggregate\n");
        goto out;
    }
    have_fleet = true;
    analyzer_init(&analyzer, &fleet, &ac);
    if (pg) { /* one collector computes the findings, the others serve them */
        char node[256];
        struct analyzer_share share;
        pg_election_node_name(node, sizeof(node));
        if (pg_election_create(cfg->db_path, node, &election, err, sizeof(err)) != RF_OK) {
            fprintf(stderr, "rasfleet-collector: %s\n", err);
            analyzer_free(&analyzer);
            fleet_free(&fleet);
            have_fleet = false;
            goto out;
        }
        pg_election_share(election, &share);
        analyzer_set_share(&analyzer, &share);
    }
    if (writer_start(&wc, auth, &writer, err, sizeof(err)) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: %s\n", err);
        goto out;
    }
    if (pg) {
        /* The hot aggregate is the whole fleet's: rebuilt from every
         * collector's rows, then fed by this one's commits (the hook) and
         * the others' (the tail); device detail, long windows and the
         * baseline are answered from SQL (readstore.h). */
        struct pg_tail_config tc = {.url = cfg->db_path, .refresh_ms = (int)cfg->pg_refresh_ms};
        if (load_baseline(cfg, &fleet) != RF_OK)
            goto out;
        if (pg_tail_start(&fleet, &tc, &tail, err, sizeof(err)) != RF_OK) {
            fprintf(stderr, "rasfleet-collector: %s\n", err);
            goto out;
        }
        writer_set_tx_hook(writer, pg_tail_own_tx, tail);
    } else if (store_open(cfg->db_path, STORE_READ_ONLY, &rodb, err, sizeof(err)) != RF_OK ||
               /* Rebuild before any batch can arrive (HTTP starts below). */
               load_baseline(cfg, &fleet) != RF_OK || fleet_rebuild(&fleet, rodb) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: cannot rebuild the hot aggregate: %s\n",
                err[0] ? err : (rodb ? sqlite3_errmsg(rodb) : "?"));
        goto out;
    }
    sqlite3_close(rodb);
    rodb = NULL;
    /* Only now that the aggregate holds the fleet: an analyzer started on
     * the empty one would compute (and on PostgreSQL publish to every
     * collector) a findings document without findings. */
    if (analyzer_start(&analyzer) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: cannot start the analyzer thread\n");
        goto out;
    }
    writer_set_commit_hook(writer, on_commit, &fleet);
    api.fleet = &fleet;
    api.analyzer = &analyzer;
    api.writer = writer;
    snprintf(api.db_path, sizeof(api.db_path), "%s", cfg->db_path);
    api.rollup_retention_days = cfg->rollup_retention_days;
    struct http_services services = {.api = api_handle, .api_arg = &api, .fleet = &fleet};
    if (tail) {
        services.status_metrics = tail_metrics;
        services.status_health = tail_health;
        services.status_arg = tail;
    }
    if (http_start(cfg, writer, auth, &services, &http, err, sizeof(err)) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: %s\n", err);
        goto out;
    }
    unsigned port = http_port(http);
    if (cli->port_file && write_port_file(cli->port_file, port) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: cannot write %s\n", cli->port_file);
        goto out;
    }
    log_info("rasfleet-collector %s listening on http://%s:%u/ (database %s, retention %d days)",
             RF_VERSION, cfg->listen_host, port, db_shown, cfg->retention_days);
    int sig = 0;
    for (;;) {
        sigwait(&sigs, &sig);
        if (sig != SIGHUP)
            break;
        reload_admin_token(cfg, auth);
    }
    log_info("signal %d: stopping (draining the write queue)", sig);
    exit_code = 0;
out:
    if (http)
        http_quiesce(http);
    writer_stop(writer); /* drains: every queued batch is committed and answered */
    if (http) {
        http_wait_idle(http, 5000);
        http_stop(http);
    }
    sqlite3_close(rodb);
    pg_tail_stop(tail); /* after the writer: no more own transactions */
    if (have_fleet) {
        analyzer_free(&analyzer);
        fleet_free(&fleet);
    }
    pg_election_destroy(election); /* after the analyzer thread stopped */
    auth_destroy(auth);
    if (exit_code == 0)
        log_info("stopped cleanly");
    return exit_code;
}

static enum auth_role cli_role(const struct cli *cli)
{
    if (cli->role && strcmp(cli->role, "agent") == 0)
        return AUTH_AGENT;
    if (cli->role && strcmp(cli->role, "reader") == 0)
        return AUTH_READER;
    return AUTH_NONE;
}

/* The token commands of one storage backend (SQLite: auth.c, PostgreSQL:
 * pg_tokens.c); `db` is its open connection. */
struct token_backend {
    void *db;
    int (*add)(void *db, enum auth_role role, const char *name, char *token_out, int64_t *id_out);
    int (*list)(void *db, FILE *out);
    int (*revoke)(void *db, int64_t id);
    void (*error)(void *db, const char *what, char *errbuf, size_t errlen);
};

static int sqlite_token_add(void *db, enum auth_role role, const char *name, char *token_out,
                            int64_t *id_out)
{
    return tokens_add(db, role, name, token_out, id_out);
}

static int sqlite_token_list(void *db, FILE *out)
{
    return tokens_list(db, out);
}

static int sqlite_token_revoke(void *db, int64_t id)
{
    return tokens_revoke(db, id);
}

static void sqlite_token_error(void *db, const char *what, char *errbuf, size_t errlen)
{
    snprintf(errbuf, errlen, "%s: %s", what, sqlite3_errmsg(db));
}

static int pg_token_add(void *db, enum auth_role role, const char *name, char *token_out,
                        int64_t *id_out)
{
    return pg_tokens_add(db, role, name, token_out, id_out);
}

static int pg_token_list(void *db, FILE *out)
{
    return pg_tokens_list(db, out);
}

static int pg_token_revoke(void *db, int64_t id)
{
    return pg_tokens_revoke(db, id);
}

static void pg_token_error(void *db, const char *what, char *errbuf, size_t errlen)
{
    pg_store_error(db, what, errbuf, errlen);
}

/* `token add|list|revoke` against either backend: the same commands,
 * output and exit codes. */
static int run_token_command(const struct token_backend *tb, struct cli *cli, int argc, char **argv)
{
    char err[512];
    if (strcmp(argv[0], "add") == 0) {
        enum auth_role role = cli_role(cli);
        char token[AUTH_TOKEN_LEN + 1];
        int64_t id;
        if (role == AUTH_NONE) {
            fprintf(stderr, "rasfleet-collector: token add needs --role agent or --role reader\n");
            return 2;
        }
        if (tb->add(tb->db, role, cli->name, token, &id) != RF_OK) {
            tb->error(tb->db, "cannot store the token", err, sizeof(err));
            fprintf(stderr, "rasfleet-collector: %s\n", err);
            return 1;
        }
        printf("%s\n", token); /* shown once, on stdout, for the operator to copy */
        fprintf(stderr, "created %s token %lld%s%s (shown once; only its hash is stored)\n",
                auth_role_name(role), (long long)id, cli->name ? " " : "",
                cli->name ? cli->name : "");
        return 0;
    }
    if (strcmp(argv[0], "list") == 0)
        return tb->list(tb->db, stdout) == RF_OK ? 0 : 1;
    if (strcmp(argv[0], "revoke") == 0 && argc >= 2) {
        char *end;
        long long id = strtoll(argv[1], &end, 10);
        if ((*end ? RF_EINVAL : tb->revoke(tb->db, id)) != RF_OK) {
            fprintf(stderr, "rasfleet-collector: no active token with id %s\n", argv[1]);
            return 1;
        }
        fprintf(stderr, "revoked token %lld\n", id);
        return 0;
    }
    usage(stderr);
    return 2;
}

static int cmd_token(struct cli *cli, int argc, char **argv)
{
    char err[512];
    int exit_code = 1;
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    if (dburl_is_postgres(cli->cfg.db_path)) {
        PGconn *c = NULL;
        if (pg_store_connect(cli->cfg.db_path, &c, err, sizeof(err)) != RF_OK ||
            pg_store_migrate(c, err, sizeof(err)) != RF_OK) {
            fprintf(stderr, "rasfleet-collector: %s\n", err);
        } else {
            const struct token_backend tb = {c, pg_token_add, pg_token_list, pg_token_revoke,
                                             pg_token_error};
            exit_code = run_token_command(&tb, cli, argc, argv);
        }
        if (c)
            PQfinish(c);
        return exit_code;
    }
    sqlite3 *db = NULL;
    if (ensure_parent_dir(cli->cfg.db_path) != RF_OK ||
        store_open(cli->cfg.db_path, STORE_READ_WRITE, &db, err, sizeof(err)) != RF_OK) {
        fprintf(stderr, "rasfleet-collector: %s\n", err);
        return 1;
    }
    const struct token_backend tb = {db, sqlite_token_add, sqlite_token_list, sqlite_token_revoke,
                                     sqlite_token_error};
    exit_code = run_token_command(&tb, cli, argc, argv);
    sqlite3_close(db);
    return exit_code;
}

/* `migrate --from FILE.db --db postgresql://...`: exit 0 copied and
 * verified, 1 failed (target unchanged), 2 usage, 3 target not empty. */
static int cmd_migrate(struct cli *cli)
{
    char err[1024], from[sizeof(cli->cfg.db_path)];
    if (!cli->from || !dburl_is_postgres(cli->cfg.db_path)) {
        fprintf(stderr, "rasfleet-collector: migrate needs --from FILE.db (the SQLite database)"
                        " and --db postgresql://... (the target)\n");
        return 2;
    }
    if (dburl_normalise(cli->from, from, sizeof(from), err, sizeof(err)) != RF_OK ||
        dburl_is_postgres(from)) {
        fprintf(stderr, "rasfleet-collector: --from must name a SQLite file\n");
        return 2;
    }
    char shown[sizeof(cli->cfg.db_path)];
    dburl_redact(cli->cfg.db_path, shown, sizeof(shown));
    fprintf(stderr, "migrating %s into %s\n", from, shown);
    struct migrate_options o = {.sqlite_path = from, .pg_url = cli->cfg.db_path,
                                .progress = stderr};
    int rc = migrate_run(&o, NULL, err, sizeof(err));
    if (rc == RF_OK)
        return 0;
    fprintf(stderr, "rasfleet-collector: migrate: %s\n", err);
    return rc == RF_EBUSY ? 3 : 1;
}

int main(int argc, char **argv)
{
    json_scratch_install(); /* before any thread: batch JSON trees in per-thread regions */
    struct cli cli = {0};
    config_defaults(&cli.cfg);
    int rc = load_config_arg(argc, argv, &cli.cfg);
    if (rc)
        return rc;
    rc = parse_flags(argc, argv, &cli);
    if (rc)
        return rc;
    log_set_level((enum log_level)cli.cfg.log_level);
    int rest = argc - optind;
    char **args = argv + optind;
    if (rest == 0 || strcmp(args[0], "serve") == 0)
        return cmd_serve(&cli);
    if (strcmp(args[0], "token") == 0)
        return cmd_token(&cli, rest - 1, args + 1);
    if (strcmp(args[0], "migrate") == 0 && rest == 1)
        return cmd_migrate(&cli);
    usage(stderr);
    return 2;
}
