-- One customer (docs/contacts.md): contacts merged into another keep their row and say where
-- they went (merged_into: a client holding the old id follows it); do-not-contact per channel
-- beside do_not_call (voice); the record of every merge, holding exactly what moved so an undo
-- moves exactly that back; and the index a contact's timeline pages on, newest first by
-- (created_at, id) keyset.
ALTER TABLE contacts ADD COLUMN merged_into INTEGER REFERENCES contacts (id) ON DELETE RESTRICT;
ALTER TABLE contacts ADD COLUMN do_not_email INTEGER NOT NULL DEFAULT 0
    CHECK (do_not_email IN (0, 1));
ALTER TABLE contacts ADD COLUMN do_not_sms INTEGER NOT NULL DEFAULT 0
    CHECK (do_not_sms IN (0, 1));
ALTER TABLE contacts ADD COLUMN do_not_social INTEGER NOT NULL DEFAULT 0
    CHECK (do_not_social IN (0, 1));
CREATE INDEX contacts_merged_into ON contacts (merged_into);

CREATE INDEX interactions_contact_created ON interactions (contact_id, created_at, id);

-- identities: the moved identities as a JSON array of {"kind","value"} (identity rows are
-- rewritten with their contact, so their (kind, value) is what names them); interactions: the
-- moved interaction ids as a JSON array; attributes_into / attributes_from: both contacts'
-- attributes before the merge (the target's won on conflicts; both are kept here).
CREATE TABLE contact_merges (
    id INTEGER PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE RESTRICT,
    from_contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE RESTRICT,
    identities TEXT NOT NULL CHECK (json_valid(identities)),
    interactions TEXT NOT NULL CHECK (json_valid(interactions)),
    attributes_into TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes_into)),
    attributes_from TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes_from)),
    state TEXT NOT NULL DEFAULT 'merged' CHECK (state IN ('merged', 'undone'))
);
CREATE INDEX contact_merges_contact_id ON contact_merges (contact_id);
CREATE INDEX contact_merges_from_contact_id ON contact_merges (from_contact_id);
