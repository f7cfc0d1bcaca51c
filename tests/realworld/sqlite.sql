-- The same store database as another system would create it on SQLite, in the style of
-- well-known public sample databases: NVARCHAR, CHARACTER, DATETIME and NUMERIC(p,s) types,
-- INTEGER keys without AUTOINCREMENT, CHECK lists for enumerations, COLLATE NOCASE for
-- case-insensitive text, JSON text for lists, a stored generated column and a view; as in
-- Chinook, a PascalCase table referencing itself whose NUMERIC(10,2) holds a REAL and an
-- INTEGER; as in Pagila, a column named like its table, stores and staff referencing each other
-- and a smallint key to an integer one. SQLite has no schemas, domains, partitions or
-- materialized views: plain tables stand in for the last.

CREATE TABLE schema_version (
    version NVARCHAR(32) PRIMARY KEY NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO schema_version (version, applied_at) VALUES ('2024.1', '2024-05-01 09:30:00');

CREATE TABLE [language] (
    [language_id] INTEGER PRIMARY KEY,
    [name] CHARACTER(20) NOT NULL,
    [last_update] DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE "film" (
    "film_id" INTEGER PRIMARY KEY,
    "title" NVARCHAR(40) NOT NULL,
    "description" TEXT,
    "release_year" INTEGER CHECK (release_year >= 1901 AND release_year <= 2155),
    "language_id" INTEGER NOT NULL REFERENCES "language" ("language_id") ON DELETE RESTRICT,
    "rental_rate" NUMERIC(4,2) NOT NULL DEFAULT 4.99,
    "length" SMALLINT CHECK (length > 0),
    "rating" TEXT DEFAULT 'G' CHECK (rating IN ('G', 'PG', 'PG-13', 'R', 'NC-17')),
    "special_features" TEXT,
    "fulltext" TEXT NOT NULL DEFAULT '',
    "last_update" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- The full-text column is kept by a trigger, as PostgreSQL's tsvector_update_trigger does.
CREATE TRIGGER film_fulltext_insert AFTER INSERT ON film BEGIN
    UPDATE film SET fulltext = lower(NEW.title || ' ' || coalesce(NEW.description, ''))
    WHERE film_id = NEW.film_id;
END;

CREATE TABLE customer (
    customer_id INTEGER PRIMARY KEY,
    email TEXT COLLATE NOCASE UNIQUE,
    first_name NVARCHAR(45) NOT NULL,
    last_name NVARCHAR(45) NOT NULL,
    full_name TEXT GENERATED ALWAYS AS (first_name || ' ' || last_name) STORED,
    active BOOLEAN NOT NULL DEFAULT 1,
    favourite_films TEXT NOT NULL DEFAULT '[]',
    country_code CHARACTER(2),
    "postal code" NVARCHAR(10)
);

CREATE TABLE payment (
    payment_id INTEGER NOT NULL,
    customer_id INTEGER NOT NULL REFERENCES customer (customer_id) ON DELETE CASCADE,
    amount NUMERIC(5,2) NOT NULL,
    payment_date TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (payment_date, payment_id)
);

CREATE TABLE country (
    country_id INTEGER PRIMARY KEY,
    country TEXT NOT NULL,
    last_update TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE store (
    store_id INTEGER PRIMARY KEY,
    manager_staff_id INTEGER NOT NULL REFERENCES staff (staff_id),
    country_id INTEGER NOT NULL REFERENCES country (country_id)
);

CREATE TABLE staff (
    staff_id INTEGER PRIMARY KEY,
    first_name NVARCHAR(45) NOT NULL,
    store_id SMALLINT NOT NULL REFERENCES store (store_id)
);

CREATE TABLE [Employee]
(
    [EmployeeId] INTEGER  NOT NULL,
    [LastName] NVARCHAR(20)  NOT NULL,
    [ReportsTo] INTEGER,
    [HireDate] DATETIME,
    [Salary] NUMERIC(10,2),
    CONSTRAINT [PK_Employee] PRIMARY KEY  ([EmployeeId]),
    FOREIGN KEY ([ReportsTo]) REFERENCES [Employee] ([EmployeeId])
		ON DELETE NO ACTION ON UPDATE NO ACTION
);

-- As wide as analytics and ERP tables are (118 columns, wider than diesel's `table!` takes),
-- named with a space and capitals, with a keyword, a non-ASCII and a spaced column name.
CREATE TABLE "Survey Answer" (
    answer_id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customer (customer_id) ON DELETE SET NULL,
    rating TEXT CHECK (rating IN ('G', 'PG', 'PG-13', 'R', 'NC-17')),
    tags TEXT,
    "select" TEXT,
    "Größe" NUMERIC(6,2),
    "free text" TEXT,
    answered_at TIMESTAMPTZ NOT NULL,
    q001 INTEGER,
    q002 TEXT,
    q003 BOOLEAN,
    q004 NUMERIC(6,2),
    q005 DATE,
    q006 DATETIME,
    q007 DOUBLE,
    q008 SMALLINT,
    q009 BIGINT,
    q010 NVARCHAR(30),
    q011 INTEGER,
    q012 TEXT,
    q013 BOOLEAN,
    q014 NUMERIC(6,2),
    q015 DATE,
    q016 DATETIME,
    q017 DOUBLE,
    q018 SMALLINT,
    q019 BIGINT,
    q020 NVARCHAR(30),
    q021 INTEGER,
    q022 TEXT,
    q023 BOOLEAN,
    q024 NUMERIC(6,2),
    q025 DATE,
    q026 DATETIME,
    q027 DOUBLE,
    q028 SMALLINT,
    q029 BIGINT,
    q030 NVARCHAR(30),
    q031 INTEGER,
    q032 TEXT,
    q033 BOOLEAN,
    q034 NUMERIC(6,2),
    q035 DATE,
    q036 DATETIME,
    q037 DOUBLE,
    q038 SMALLINT,
    q039 BIGINT,
    q040 NVARCHAR(30),
    q041 INTEGER,
    q042 TEXT,
    q043 BOOLEAN,
    q044 NUMERIC(6,2),
    q045 DATE,
    q046 DATETIME,
    q047 DOUBLE,
    q048 SMALLINT,
    q049 BIGINT,
    q050 NVARCHAR(30),
    q051 INTEGER,
    q052 TEXT,
    q053 BOOLEAN,
    q054 NUMERIC(6,2),
    q055 DATE,
    q056 DATETIME,
    q057 DOUBLE,
    q058 SMALLINT,
    q059 BIGINT,
    q060 NVARCHAR(30),
    q061 INTEGER,
    q062 TEXT,
    q063 BOOLEAN,
    q064 NUMERIC(6,2),
    q065 DATE,
    q066 DATETIME,
    q067 DOUBLE,
    q068 SMALLINT,
    q069 BIGINT,
    q070 NVARCHAR(30),
    q071 INTEGER,
    q072 TEXT,
    q073 BOOLEAN,
    q074 NUMERIC(6,2),
    q075 DATE,
    q076 DATETIME,
    q077 DOUBLE,
    q078 SMALLINT,
    q079 BIGINT,
    q080 NVARCHAR(30),
    q081 INTEGER,
    q082 TEXT,
    q083 BOOLEAN,
    q084 NUMERIC(6,2),
    q085 DATE,
    q086 DATETIME,
    q087 DOUBLE,
    q088 SMALLINT,
    q089 BIGINT,
    q090 NVARCHAR(30),
    q091 INTEGER,
    q092 TEXT,
    q093 BOOLEAN,
    q094 NUMERIC(6,2),
    q095 DATE,
    q096 DATETIME,
    q097 DOUBLE,
    q098 SMALLINT,
    q099 BIGINT,
    q100 NVARCHAR(30),
    q101 INTEGER,
    q102 TEXT,
    q103 BOOLEAN,
    q104 NUMERIC(6,2),
    q105 DATE,
    q106 DATETIME,
    q107 DOUBLE,
    q108 SMALLINT,
    q109 BIGINT,
    q110 NVARCHAR(30)
);

-- PostgreSQL keeps it in a schema of its own (`sales`); SQLite has none.
CREATE TABLE invoice (
    invoice_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customer (customer_id),
    total NUMERIC(8,2) NOT NULL,
    issued_on DATE NOT NULL
);

-- A table without a primary key, as logs often are: served read-only, like a view.
CREATE TABLE audit_log (
    logged_at TIMESTAMPTZ NOT NULL,
    message TEXT NOT NULL
);

CREATE VIEW film_list AS
    SELECT f.film_id, f.title, f.length, l.name AS language
    FROM film f JOIN language l ON l.language_id = f.language_id;

CREATE TABLE customer_total (
    customer_id INTEGER,
    total NUMERIC(10,2)
);

CREATE TABLE film_rate_total (
    total TEXT
);

INSERT INTO language (name, last_update) VALUES
    ('English', '2024-01-01 10:00:00'),
    ('Italian', '2024-01-02 11:30:00');
INSERT INTO film (title, description, release_year, language_id, rental_rate, length, rating,
                  special_features, last_update) VALUES
    ('ACADEMY DINOSAUR', 'An epic drama of a feminist and a mad scientist', 2006, 1, '0.99', 86,
     'PG', '["Deleted Scenes","Behind the Scenes"]', '2024-02-01 08:00:00'),
    ('ACE GOLDFINGER', 'An astounding epistle of a database administrator', 2006, 1, '4.99', 48,
     'G', '["Trailers","Deleted Scenes"]', '2024-02-01 08:00:01'),
    ('ADAPTATION HOLES', 'An astounding reflection of a lumberjack and a car', 2007, 2, '2.99',
     NULL, 'NC-17', '["Trailers"]', '2024-02-01 08:00:02'),
    ('AFFAIR PREJUDICE', NULL, NULL, 2, '2.99', 117, NULL, NULL, '2024-02-01 08:00:03');
INSERT INTO customer (email, first_name, last_name, active, favourite_films, country_code,
                      "postal code") VALUES
    ('Mary.Smith@example.com', 'Mary', 'Smith', 1, '[1,3]', 'US', '10001'),
    ('patricia.johnson@example.com', 'Patricia', 'Johnson', 0, '[]', 'GB', 'SW1A 1AA'),
    (NULL, 'Linda', 'Williams', 1, '[2]', NULL, NULL);
INSERT INTO payment (payment_id, customer_id, amount, payment_date) VALUES
    (1, 1, '2.99', '2024-03-05 10:15:00'),
    (2, 1, '0.99', '2025-01-15 08:00:00.500'),
    (3, 2, '5.99', '2023-12-31 23:59:59'),
    (4, 3, '4.99', '2025-06-01 10:00:00');
INSERT INTO customer_total (customer_id, total)
    SELECT customer_id, sum(amount) FROM payment GROUP BY customer_id;
INSERT INTO film_rate_total (total) SELECT printf('%.2f', sum(rental_rate)) FROM film;
INSERT INTO country (country) VALUES ('Italy'), ('Japan');
-- Each of the two tables references the other: checked when the rows are committed.
BEGIN;
PRAGMA defer_foreign_keys = ON;
INSERT INTO store (manager_staff_id, country_id) VALUES (1, 1), (2, 2);
INSERT INTO staff (first_name, store_id) VALUES ('Mike', 1), ('Jon', 2), ('Ann', 1);
COMMIT;
INSERT INTO [Employee] ([EmployeeId], [LastName], [ReportsTo], [HireDate], [Salary]) VALUES
    (1, 'Adams', NULL, '2002-08-14 00:00:00', 1.98),
    (2, 'Edwards', 1, '2002-05-01 00:00:00', 2),
    (3, 'Peacock', 2, '2002-04-01 00:00:00', NULL);
INSERT INTO "Survey Answer" (customer_id, rating, tags, "select", "Größe", "free text", answered_at, q001, q002, q003, q004, q005, q006, q007, q008, q009, q010, q011, q012, q013, q014, q015, q016, q017, q018, q019, q020, q021, q022, q023, q024, q025, q026, q027, q028, q029, q030, q031, q032, q033, q034, q035, q036, q037, q038, q039, q040, q041, q042, q043, q044, q045, q046, q047, q048, q049, q050, q051, q052, q053, q054, q055, q056, q057, q058, q059, q060, q061, q062, q063, q064, q065, q066, q067, q068, q069, q070, q071, q072, q073, q074, q075, q076, q077, q078, q079, q080, q081, q082, q083, q084, q085, q086, q087, q088, q089, q090, q091, q092, q093, q094, q095, q096, q097, q098, q099, q100, q101, q102, q103, q104, q105, q106, q107, q108, q109, q110) VALUES
    (1, 'PG', '["short","fun"]', 'all', 12.50, 'Liked the popcorn.', '2024-04-01 10:00:00', 1001,
     'answer 1.2', 0, 1004.04, '2024-06-09', NULL, 1007.25, 81, 9000001009, 'v1-10', 1011,
     'answer 1.12', NULL, 1014.14, '2024-04-19', '2024-05-22 16:07:16', 1017.25, 181, 9000001019,
     NULL, 1021, 'answer 1.22', 0, 1024.24, '2024-02-01', '2024-03-04 02:07:26', NULL, 281,
     9000001029, 'v1-30', 1031, 'answer 1.32', 1, NULL, '2024-12-11', '2024-01-14 12:07:36',
     1037.25, 381, 9000001039, 'v1-40', NULL, 'answer 1.42', 0, 1044.44, '2024-10-21',
     '2024-11-24 22:07:46', 1047.25, NULL, 9000001049, 'v1-50', 1051, 'answer 1.52', 1, 1054.54,
     NULL, '2024-09-06 08:07:56', 1057.25, 581, 9000001059, 'v1-60', 1061, NULL, 0, 1064.64,
     '2024-06-13', '2024-07-16 18:07:06', 1067.25, 681, NULL, 'v1-70', 1071, 'answer 1.72', 1,
     1074.74, '2024-04-23', NULL, 1077.25, 781, 9000001079, 'v1-80', 1081, 'answer 1.82', NULL,
     1084.84, '2024-02-05', '2024-03-08 14:07:26', 1087.25, 881, 9000001089, NULL, 1091,
     'answer 1.92', 1, 1094.94, '2024-12-15', '2024-01-18 00:07:36', NULL, 981, 9000001099,
     'v1-100', 1101, 'answer 1.102', 0, NULL, '2024-10-25', '2024-11-28 10:07:46', 1107.25, 1081,
     9000001109, 'v1-110'),
    (3, NULL, '[]', NULL, NULL, NULL, '2024-04-02 11:30:00', 2001, 'answer 2.2', 1, 2004.04,
     NULL, '2024-07-17 06:14:06', 2007.25, 82, 9000002009, 'v2-10', 2011, NULL, 0, 2014.14,
     '2024-04-22', '2024-05-27 16:14:16', 2017.25, 182, NULL, 'v2-20', 2021, 'answer 2.22', 1,
     2024.24, '2024-02-04', NULL, 2027.25, 282, 9000002029, 'v2-30', 2031, 'answer 2.32', NULL,
     2034.34, '2024-12-14', '2024-01-19 12:14:36', 2037.25, 382, 9000002039, NULL, 2041,
     'answer 2.42', 1, 2044.44, '2024-10-24', '2024-11-01 22:14:46', NULL, 482, 9000002049,
     'v2-50', 2051, 'answer 2.52', 0, NULL, '2024-08-06', '2024-09-11 08:14:56', 2057.25, 582,
     9000002059, 'v2-60', NULL, 'answer 2.62', 1, 2064.64, '2024-06-16', '2024-07-21 18:14:06',
     2067.25, NULL, 9000002069, 'v2-70', 2071, 'answer 2.72', 0, 2074.74, NULL,
     '2024-05-03 04:14:16', 2077.25, 782, 9000002079, 'v2-80', 2081, NULL, 1, 2084.84,
     '2024-02-08', '2024-03-13 14:14:26', 2087.25, 882, NULL, 'v2-90', 2091, 'answer 2.92', 0,
     2094.94, '2024-12-18', NULL, 2097.25, 982, 9000002099, 'v2-100', 2101, 'answer 2.102', NULL,
     2104.04, '2024-10-28', '2024-11-05 10:14:46', 2107.25, 1082, 9000002109, NULL),
    (NULL, 'NC-17', NULL, 'some', 0.05, 'Zu laut, aber gut.', '2024-04-03 09:15:00', 3001,
     'answer 3.2', 0, NULL, '2024-06-15', '2024-07-22 06:21:06', 3007.25, 83, 9000003009,
     'v3-10', NULL, 'answer 3.12', 1, 3014.14, '2024-04-25', '2024-05-04 16:21:16', 3017.25,
     NULL, 9000003019, 'v3-20', 3021, 'answer 3.22', 0, 3024.24, NULL, '2024-03-14 02:21:26',
     3027.25, 283, 9000003029, 'v3-30', 3031, NULL, 1, 3034.34, '2024-12-17',
     '2024-01-24 12:21:36', 3037.25, 383, NULL, 'v3-40', 3041, 'answer 3.42', 0, 3044.44,
     '2024-10-27', NULL, 3047.25, 483, 9000003049, 'v3-50', 3051, 'answer 3.52', NULL, 3054.54,
     '2024-08-09', '2024-09-16 08:21:56', 3057.25, 583, 9000003059, NULL, 3061, 'answer 3.62', 0,
     3064.64, '2024-06-19', '2024-07-26 18:21:06', NULL, 683, 9000003069, 'v3-70', 3071,
     'answer 3.72', 1, NULL, '2024-04-01', '2024-05-08 04:21:16', 3077.25, 783, 9000003079,
     'v3-80', NULL, 'answer 3.82', 0, 3084.84, '2024-02-11', '2024-03-18 14:21:26', 3087.25,
     NULL, 9000003089, 'v3-90', 3091, 'answer 3.92', 1, 3094.94, NULL, '2024-01-28 00:21:36',
     3097.25, 983, 9000003099, 'v3-100', 3101, NULL, 0, 3104.04, '2024-10-03',
     '2024-11-10 10:21:46', 3107.25, 1083, NULL, 'v3-110');
INSERT INTO invoice (customer_id, total, issued_on) VALUES
    (1, 3.98, '2024-03-31'),
    (2, 5.99, '2024-01-31');
INSERT INTO audit_log (logged_at, message) VALUES
    ('2024-03-31 10:00:00', 'invoice 1 issued'),
    ('2024-01-31 09:00:00', 'invoice 2 issued');
