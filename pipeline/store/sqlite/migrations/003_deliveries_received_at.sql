-- Pruning finds old deliveries by age (prune.go).
CREATE INDEX deliveries_received_at ON deliveries (received_at);
