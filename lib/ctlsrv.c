/* ctlsrv: placeholder, being written. */
#include "ctlsrv.h"
