/*
 * textenc.h - decode the bytes of an exported Windows file into UTF-8.
 *
 * Windows tools write text in several encodings: rasphone.pbk is ANSI/UTF-8
 * or UTF-16LE, PowerShell 5.1 `>` redirection writes UTF-16LE with a BOM,
 * Out-File/Set-Content add a UTF-8 BOM, and some tools write UTF-16LE
 * without a BOM. Every parser of those files runs its input through this
 * module first, so the parsers only ever see valid UTF-8 without a BOM.
 *
 * Accepted: UTF-8 with or without BOM (EF BB BF), UTF-16LE with BOM (FF FE),
 * UTF-16LE without BOM (recognised by NUL bytes in odd positions of the first
 * TEXTENC_SNIFF_LEN bytes), UTF-16BE with BOM (FE FF) and, by the same
 * pattern, without BOM. The BOM is dropped from the output.
 * Refused with RF_EFORMAT and the byte offset (in the input) of the first bad
 * unit: invalid or overlong UTF-8, lone or reversed UTF-16 surrogates, an odd
 * byte count in UTF-16, a sequence cut by the end of the input, and any NUL
 * character (U+0000), which no text export contains, so binary garbage and
 * UTF-32 are refused too.
 *
 * Two interfaces: textenc_decode() for a buffer in memory, and a streaming
 * decoder (textenc_stream_*) that converts a file of any size chunk by
 * chunk (used by the event XML reader). Output is appended to a struct buf
 * owned by the caller; it is at most 3/2 of the input plus a few bytes.
 */
#ifndef RASFLEET_TEXTENC_H
#define RASFLEET_TEXTENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define TEXTENC_SNIFF_LEN 256 /* bytes examined to recognise BOM-less UTF-16 */

enum textenc_kind {
    TEXTENC_UTF8 = 0,
    TEXTENC_UTF8_BOM,
    TEXTENC_UTF16LE,
    TEXTENC_UTF16LE_BOM,
    TEXTENC_UTF16BE,
    TEXTENC_UTF16BE_BOM,
};

struct textenc_error {
    size_t offset;      /* byte offset in the input of the first bad unit */
    const char *reason; /* static string: "invalid UTF-8", "lone surrogate", ... */
    bool truncated;     /* the input ends inside a character (the file may be cut) */
};

/* "utf-8", "utf-8-bom", "utf-16le", "utf-16le-bom", "utf-16be", "utf-16be-bom". */
const char *textenc_kind_name(enum textenc_kind kind);

/*
 * Decodes buf[0..len) and appends the UTF-8 text to out (NUL-terminated by
 * struct buf). kind (may be NULL) receives the detected encoding; on
 * RF_EFORMAT err (may be NULL) says where and why, and out holds all the
 * text before the bad unit. Returns RF_OK, RF_EFORMAT or RF_ENOMEM.
 */
int textenc_decode(const char *buf, size_t len, struct buf *out, enum textenc_kind *kind,
                   struct textenc_error *err);

/* Streaming decoder state; all fields are private. */
struct textenc_stream {
    enum textenc_kind kind;
    bool detected;
    bool failed;
    int fail_rc;
    unsigned char sniff[TEXTENC_SNIFF_LEN];
    size_t n_sniff;
    unsigned char carry[4]; /* UTF-8: start of a split sequence; UTF-16: odd byte */
    size_t n_carry;
    size_t carry_need; /* UTF-8: length of the split sequence */
    size_t carry_off;
    bool has_high; /* UTF-16: a high surrogate waits for its low half */
    uint32_t high;
    size_t high_off;
    size_t offset; /* input bytes consumed so far */
    struct textenc_error err;
};

void textenc_stream_init(struct textenc_stream *st);
/*
 * Decodes the next len bytes of the input and appends whatever text is
 * complete to out (the decoder holds back up to TEXTENC_SNIFF_LEN bytes
 * until it knows the encoding, and a split character until its last byte
 * arrives). Returns RF_OK, RF_EFORMAT (then st->err is set, everything
 * before the bad unit has been appended, and every later call fails the same
 * way) or RF_ENOMEM. However the input is cut into calls, the output, the
 * result and the error are those of textenc_decode() on the whole input.
 */
int textenc_stream_feed(struct textenc_stream *st, const char *in, size_t len, struct buf *out);
/* Ends the input: flushes held bytes; RF_EFORMAT if it ends mid-character
 * (then the error says truncated). */
int textenc_stream_finish(struct textenc_stream *st, struct buf *out);
/* The detected encoding (TEXTENC_UTF8 until detection has happened). */
enum textenc_kind textenc_stream_kind(const struct textenc_stream *st);
/* The error of a failed stream (offset and reason), or NULL. */
const struct textenc_error *textenc_stream_error(const struct textenc_stream *st);

#endif
