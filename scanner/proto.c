/* proto.c - each protocol table row's callbacks (see proto.h). */
#include "proto.h"

#include <stdio.h>
#include <string.h>

static const struct proto_ops *const ops_table[MT_PROTO_COUNT] = {
#define PROTO_OPS_ROW(ID, id, implicit, cmd, sports, iports) [PROTO_##ID] = &id##_ops,
    MT_PROTO_LIST(PROTO_OPS_ROW)
#undef PROTO_OPS_ROW
};

const struct proto_ops *proto_ops_for(enum mt_proto p)
{
    return ops_table[p];
}

int proto_check(void)
{
    for (int i = 0; i < MT_PROTO_COUNT; i++) {
        const struct proto_ops *o = ops_table[i];
        const char *row = mt_proto_name((enum mt_proto)i);
        if (o == NULL || o->name == NULL || strcmp(o->name, row) != 0 || !o->on_start || !o->on_line ||
            !o->on_tls_up || !o->phase_name || !o->on_cut) {
            fprintf(stderr, "mailtls-scan: protocol table row '%s' has no complete %s_ops\n", row, row);
            return -1;
        }
    }
    return 0;
}
