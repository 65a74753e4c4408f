/*
 * static_files.c - dashboard file serving. See static_files.h.
 */
#include "static_files.h"
#include "rasfleet/result.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_MAX_BYTES (16u << 20)

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
};

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

static int path_is_safe(const char *p)
{
    if (p[0] != '/' || strchr(p, '\\') || strstr(p, "//"))
        return 0;
    for (const char *seg = p + 1; *seg;) {
        if (seg[0] == '.') /* "..", ".git", hidden files */
            return 0;
        const char *next = strchr(seg, '/');
        if (!next)
            break;
        seg = next + 1;
    }
    for (const unsigned char *c = (const unsigned char *)p; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return 0;
    return 1;
}

int static_file_load(const char *web_dir, const char *url_path, struct buf *out,
                     const char **content_type)
{
    char path[4096];
    if (!web_dir || !*web_dir || !path_is_safe(url_path))
        return RF_ENOTFOUND;
    const char *rel = strcmp(url_path, "/") == 0 ? "/index.html" : url_path;
    if ((size_t)snprintf(path, sizeof(path), "%s%s", web_dir, rel) >= sizeof(path))
        return RF_ENOTFOUND;
    /* O_NOFOLLOW covers the last component only: a symlinked directory
     * inside the web dir must not lead outside it either. */
    char real_dir[4096], real_file[4096];
    size_t dlen;
    if (!realpath(web_dir, real_dir) || !realpath(path, real_file) ||
        strncmp(real_file, real_dir, dlen = strlen(real_dir)) != 0 || real_file[dlen] != '/')
        return RF_ENOTFOUND;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return RF_ENOTFOUND;
    struct stat st;
    int rc = RF_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = RF_ENOTFOUND;
        goto out;
    }
    if ((size_t)st.st_size > STATIC_MAX_BYTES) {
        rc = RF_ETOOBIG;
        goto out;
    }
    if (buf_reserve(out, (size_t)st.st_size) != RF_OK) {
        rc = RF_ENOMEM;
        goto out;
    }
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, out->data + out->len + done, (size_t)st.st_size - done);
        if (n <= 0) {
            rc = RF_EIO;
            goto out;
        }
        done += (size_t)n;
    }
    out->len += done;
    out->data[out->len] = '\0';
    *content_type = type_of(rel);
out:
    close(fd);
    return rc;
}

const char *static_default_dir(void)
{
    struct stat st;
    if (stat("web/index.html", &st) == 0)
        return "web";
#ifdef RF_SOURCE_WEB_DIR
    return RF_SOURCE_WEB_DIR;
#else
    return "";
#endif
}
