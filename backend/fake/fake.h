/* fake.h — fake devices for testing the scheduler and executor (see fake_backend.c). */
#ifndef HCG_FAKE_H
#define HCG_FAKE_H

#include "backend/backend.h"

/* Registers $HCG_FAKE_DEVICES fake devices ("fake:0", ...); none when it is unset. */
hcg_status hcg_fake_register(void);

#endif
