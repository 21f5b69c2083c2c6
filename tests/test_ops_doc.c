/* test_ops_doc.c — keeps docs/ops.md in step with the op table: every op has a "### `name`"
 * section, every attribute of its schema is named (in backticks) in that section or in the
 * introduction of the group the section is in, and every documented op exists. */
#include <stdlib.h>
#include <string.h>

#include "graph/op_table.h"
#include "testlib.h"

/* The text between the first occurrence of needle at or after from and the end. */
static const char *find_from(const char *from, const char *needle) { return from ? strstr(from, needle) : NULL; }

/* Whether [begin, end) contains "`word`". */
static bool mentions(const char *begin, const char *end, const char *word)
{
    char quoted[128];
    snprintf(quoted, sizeof quoted, "`%s`", word);
    const char *p = strstr(begin, quoted); /* the first one after begin: in range or none is */
    return p && p + strlen(quoted) <= end;
}

int main(void)
{
    size_t len;
    char *doc = tl_read_file(tl_src("docs/ops.md"), &len);
    if (!CHECK(doc != NULL, "docs/ops.md is readable")) return tl_finish();
    const char *doc_end = doc + len;
    for (int op = 0; op < HCG_OP_COUNT; op++) {
        const hcg_op_info *info = hcg_op_info_get((hcg_op)op);
        char heading[96];
        snprintf(heading, sizeof heading, "\n### `%s`\n", hcg_op_name((hcg_op)op));
        const char *h = strstr(doc, heading);
        if (!CHECK(h != NULL, "docs/ops.md has no section for op '%s'", hcg_op_name((hcg_op)op))) continue;
        const char *body = h + strlen(heading);
        /* The section runs to the next heading of either level. */
        const char *end = doc_end, *n3 = find_from(body, "\n### "), *n2 = find_from(body, "\n## ");
        if (n3 && n3 < end) end = n3;
        if (n2 && n2 < end) end = n2;
        /* The group introduction: from the "## " heading before this section to its first "### ". */
        const char *group = doc, *p = doc;
        while ((p = strstr(p, "\n## ")) && p < h) group = p++;
        const char *intro_end = find_from(group + 1, "\n### ");
        if (!intro_end) intro_end = h;
        for (int a = 0; a < HCG_MAX_ATTRS && info->attrs[a].name; a++) {
            const char *name = info->attrs[a].name;
            CHECK(mentions(body, end, name) || mentions(group, intro_end, name),
                  "docs/ops.md: op '%s' does not document its attribute `%s`", hcg_op_name((hcg_op)op), name);
        }
    }
    /* No section for an op that does not exist. */
    for (const char *s = strstr(doc, "\n### `"); s; s = strstr(s + 1, "\n### `")) {
        const char *name = s + 6, *q = strchr(name, '`');
        if (!q || q - name >= 64) continue;
        char buf[64];
        memcpy(buf, name, (size_t)(q - name));
        buf[q - name] = 0;
        hcg_op op;
        CHECK(hcg_op_parse(buf, &op), "docs/ops.md documents '%s', which is not an op", buf);
    }
    free(doc);
    return tl_finish();
}
