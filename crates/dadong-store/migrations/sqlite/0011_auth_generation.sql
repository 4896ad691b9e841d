-- One counter that moves whenever a sign-in may have stopped being valid: a user changed or
-- removed (deactivated, a new role or password), a session ended or changed. Each server
-- process keeps the sessions it has read in memory and reads only this counter on a request;
-- if it has moved since, the process forgets them all and reads again. Triggers, not the
-- store's code, move it, so that a change made by any process or by hand in SQL is seen at
-- once. A new session does not move it: no process can have a stale copy of one not yet made.
CREATE TABLE auth_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO auth_generation (id, n) VALUES (1, 0);

CREATE TRIGGER users_updated_auth AFTER UPDATE ON users
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER users_deleted_auth AFTER DELETE ON users
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER sessions_updated_auth AFTER UPDATE ON sessions
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE id = 1;
END;
CREATE TRIGGER sessions_deleted_auth AFTER DELETE ON sessions
BEGIN
    UPDATE auth_generation SET n = n + 1 WHERE id = 1;
END;
