-- A key enterprise can leave the key list (issue 6's leftover). Its reported figures and
-- plans are records and stay; removed_at marks it off the list, the board and the forms,
-- and naming it again puts it back with its history.
ALTER TABLE key_enterprises ADD COLUMN removed_at BIGINT;
