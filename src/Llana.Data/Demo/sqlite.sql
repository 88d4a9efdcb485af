-- Llana demo schema for SQLite: the table and column names of Llana's MySQL/PostgreSQL demo (not the different
-- names of its sqlite.sql), SQLite types (INTEGER PRIMARY KEY AUTOINCREMENT, VARCHAR/TEXT, DATETIME as text),
-- a CHECK for the role enum and the same foreign keys. Rows are inserted by DemoDatabase.
-- Statements end with ';' at the end of a line.

CREATE TABLE "User" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "email" VARCHAR(255) NOT NULL UNIQUE,
  "password" VARCHAR(255) NOT NULL,
  "role" VARCHAR(5) DEFAULT 'USER' CHECK ("role" IN ('ADMIN','USER')),
  "firstName" VARCHAR(255) NULL,
  "lastName" VARCHAR(255) NULL,
  "createdAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" DATETIME NULL
);

CREATE TABLE "UserApiKey" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "userId" INTEGER NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE RESTRICT,
  "apiKey" VARCHAR(255) NOT NULL,
  "createdAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" DATETIME NULL
);

CREATE INDEX "UserApiKey_user" ON "UserApiKey" ("userId");

CREATE TABLE "Customer" (
  "custId" INTEGER PRIMARY KEY AUTOINCREMENT,
  "userId" INTEGER NOT NULL REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE RESTRICT,
  "companyName" VARCHAR(40) NOT NULL,
  "contactName" VARCHAR(60) NULL,
  "contactTitle" VARCHAR(30) NULL,
  "address" VARCHAR(60) NULL,
  "city" VARCHAR(15) NULL,
  "region" VARCHAR(15) NULL,
  "postalCode" VARCHAR(10) NULL,
  "country" VARCHAR(15) NULL,
  "phone" VARCHAR(24) NULL,
  "mobile" VARCHAR(24) NULL,
  "email" VARCHAR(225) NULL UNIQUE,
  "fax" VARCHAR(24) NULL,
  "createdAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" DATETIME NULL
);

CREATE TABLE "Employee" (
  "employeeId" INTEGER PRIMARY KEY AUTOINCREMENT,
  "lastName" VARCHAR(20) NOT NULL,
  "firstName" VARCHAR(10) NOT NULL,
  "title" VARCHAR(30) NULL,
  "titleOfCourtesy" VARCHAR(25) NULL,
  "birthDate" DATETIME NULL,
  "hireDate" DATETIME NULL,
  "address" VARCHAR(60) NULL,
  "city" VARCHAR(15) NULL,
  "region" VARCHAR(15) NULL,
  "postalCode" VARCHAR(10) NULL,
  "country" VARCHAR(15) NULL,
  "phone" VARCHAR(24) NULL,
  "extension" VARCHAR(4) NULL,
  "mobile" VARCHAR(24) NULL,
  "email" VARCHAR(225) NULL,
  "photo" BLOB NULL,
  "notes" TEXT NULL,
  "photoPath" VARCHAR(255) NULL,
  "mgrid" INTEGER NULL,
  "createdAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" DATETIME NULL
);

CREATE TABLE "Shipper" (
  "shipperId" INTEGER PRIMARY KEY AUTOINCREMENT,
  "companyName" VARCHAR(40) NOT NULL,
  "phone" VARCHAR(44) NULL,
  "createdAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" DATETIME NULL
);

CREATE TABLE "SalesOrder" (
  "orderId" INTEGER PRIMARY KEY AUTOINCREMENT,
  "custId" INTEGER NOT NULL REFERENCES "Customer" ("custId") ON UPDATE RESTRICT,
  "employeeId" INTEGER NULL REFERENCES "Employee" ("employeeId") ON DELETE SET NULL ON UPDATE RESTRICT,
  "orderDate" DATETIME NULL,
  "requiredDate" DATETIME NULL,
  "shippedDate" DATETIME NULL,
  "shipperId" INTEGER NOT NULL REFERENCES "Shipper" ("shipperId") ON UPDATE RESTRICT,
  "freight" DECIMAL(10,2) NULL,
  "shipName" VARCHAR(40) NULL,
  "shipAddress" VARCHAR(60) NULL,
  "shipCity" VARCHAR(15) NULL,
  "shipRegion" VARCHAR(15) NULL,
  "shipPostalCode" VARCHAR(10) NULL,
  "shipCountry" VARCHAR(15) NULL,
  "createdAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" DATETIME DEFAULT CURRENT_TIMESTAMP,
  "deletedAt" DATETIME NULL
);
