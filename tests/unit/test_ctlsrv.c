#include "unit.h"

void
suite_ctlsrv(void)
{
}
