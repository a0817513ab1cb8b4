/* Schema migrations embedded at build time from src/store/migrations/NNN_name.sql, applied in
 * version order at open inside one transaction each; the schema_migrations table records them. */
#ifndef BLEND_STORE_MIGRATIONS_H
#define BLEND_STORE_MIGRATIONS_H

struct blend_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct blend_migration blend_migrations[];
extern const int blend_migrations_count;

#endif
