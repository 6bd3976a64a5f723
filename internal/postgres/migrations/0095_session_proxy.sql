-- 0095 (issue 15): the per-session proxy URL (http, https or socks5, with
-- optional credentials). NULL: connect directly. The API never returns the
-- password (it is masked as ***).
ALTER TABLE session_settings ADD COLUMN proxy_url text;
