#ifndef CUTOVER_CLIBPQ_SHIM_H
#define CUTOVER_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
