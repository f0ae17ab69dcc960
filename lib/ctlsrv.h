/* ctlsrv: placeholder, being written. */
#ifndef DS_CTLSRV_H
#define DS_CTLSRV_H
#endif
