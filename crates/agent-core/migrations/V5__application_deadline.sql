-- The date the centre promises a decision by (办结期限, China date YYYY-MM-DD), as the centre
-- sends it with 已接收 and with acceptance; NULL until then (or from an older centre).
ALTER TABLE applications ADD COLUMN deadline TEXT;
