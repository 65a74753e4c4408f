/*
 * result.h - status codes shared by every rasfleet module.
 *
 * Functions that can fail return 0 (RF_OK) or one of the negative codes
 * below and pass their outputs by pointer. The text a user reads is built at
 * the edge (HTTP answer, CLI message); rf_strerror() only names the code.
 */
#ifndef RASFLEET_RESULT_H
#define RASFLEET_RESULT_H

enum rf_err {
    RF_OK = 0,
    RF_ENOMEM = -1,   /* allocation failed */
    RF_EINVAL = -2,   /* caller passed something invalid */
    RF_EIO = -3,      /* read/write/system call failed */
    RF_ETOOBIG = -4,  /* input over a configured limit */
    RF_EFORMAT = -5,  /* input is not in the expected format */
    RF_ENOTFOUND = -6,
    RF_EBUSY = -7,    /* a bounded resource is full; retry later */
    RF_ESTORAGE = -8, /* the database refused a write (full, read-only) */
    RF_ESTOPPED = -9, /* the component is shutting down */
    RF_ETRUNC = -10,  /* input ended early (truncated stream) */
};

const char *rf_strerror(int err);

#endif
