-- The tables every error-catalogue case runs against (created in a temporary DuckDB file).
CREATE TABLE customers (customer_id INTEGER, email VARCHAR, country VARCHAR, age INTEGER,
                        consent_marketing BOOLEAN, signup_at TIMESTAMP);
CREATE TABLE orders (order_id INTEGER, customer_id INTEGER, ordered_at TIMESTAMP,
                     amount DECIMAL(10, 2), quantity INTEGER, sku VARCHAR);
CREATE TABLE web_events (event_id INTEGER, customer_id INTEGER, occurred_at TIMESTAMP,
                         name VARCHAR, kind VARCHAR, duration_s DOUBLE, sku VARCHAR);
