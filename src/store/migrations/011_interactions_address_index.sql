-- A web chat visitor's conversations are found by their address (the visitor's identity) at
-- every hello; without an index that read scans every interaction of the center.
CREATE INDEX interactions_address ON interactions (address) WHERE address IS NOT NULL;
