/*
 * static_files.h - serves the dashboard's files from the web directory:
 * "/" is index.html, other paths map to files under the directory. Paths
 * with "..", backslashes, NUL or hidden segments are refused; only regular
 * files are served; the content type comes from the extension.
 */
#ifndef RASFLEET_STATIC_FILES_H
#define RASFLEET_STATIC_FILES_H

#include <stddef.h>

#include "buf.h"

/* Reads the file for url_path into out and sets *content_type. Returns
 * RF_OK, RF_ENOTFOUND (no such file or a refused path), RF_ETOOBIG (over
 * 16 MiB) or RF_EIO. */
int static_file_load(const char *web_dir, const char *url_path, struct buf *out,
                     const char **content_type);

/* The web directory to use when none is configured: ./web when it holds an
 * index.html, else the source tree's web/ (RF_SOURCE_WEB_DIR). */
const char *static_default_dir(void);

#endif
