-- Llana demo schema for MySQL / MariaDB: the tables, columns, types and keys of Llana's demo/databases/mysql.sql,
-- plus a unique index on Customer.email and the SalesOrder.employeeId foreign key. Rows are inserted by DemoDatabase.
-- Statements end with ';' at the end of a line.

CREATE TABLE `User` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `email` VARCHAR(255) NOT NULL,
  `password` VARCHAR(255) NOT NULL,
  `role` ENUM('ADMIN','USER') DEFAULT 'USER',
  `firstName` VARCHAR(255) DEFAULT NULL,
  `lastName` VARCHAR(255) DEFAULT NULL,
  `createdAt` DATETIME DEFAULT CURRENT_TIMESTAMP,
  `updatedAt` DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `deletedAt` DATETIME DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `id` (`id`),
  UNIQUE KEY `uniqueEmail` (`email`)
) ENGINE=InnoDB;

CREATE TABLE `UserApiKey` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `userId` INT NOT NULL,
  `apiKey` VARCHAR(255) NOT NULL,
  `createdAt` DATETIME DEFAULT CURRENT_TIMESTAMP,
  `updatedAt` DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `deletedAt` DATETIME DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `user` (`userId`),
  CONSTRAINT `UserApiKeyUserId` FOREIGN KEY (`userId`) REFERENCES `User` (`id`) ON DELETE CASCADE ON UPDATE RESTRICT
) ENGINE=InnoDB;

CREATE TABLE `Customer` (
  `custId` INT NOT NULL AUTO_INCREMENT,
  `userId` INT NOT NULL,
  `companyName` VARCHAR(40) NOT NULL,
  `contactName` VARCHAR(60) NULL,
  `contactTitle` VARCHAR(30) NULL,
  `address` VARCHAR(60) NULL,
  `city` VARCHAR(15) NULL,
  `region` VARCHAR(15) NULL,
  `postalCode` VARCHAR(10) NULL,
  `country` VARCHAR(15) NULL,
  `phone` VARCHAR(24) NULL,
  `mobile` VARCHAR(24) NULL,
  `email` VARCHAR(225) NULL,
  `fax` VARCHAR(24) NULL,
  `createdAt` DATETIME DEFAULT CURRENT_TIMESTAMP,
  `updatedAt` DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `deletedAt` DATETIME DEFAULT NULL,
  PRIMARY KEY (`custId`),
  UNIQUE KEY `uniqueCustomerEmail` (`email`),
  CONSTRAINT `CustomerUserId` FOREIGN KEY (`userId`) REFERENCES `User` (`id`) ON DELETE CASCADE ON UPDATE RESTRICT
) ENGINE=InnoDB;

CREATE TABLE `Employee` (
  `employeeId` INT NOT NULL AUTO_INCREMENT,
  `lastName` VARCHAR(20) NOT NULL,
  `firstName` VARCHAR(10) NOT NULL,
  `title` VARCHAR(30) NULL,
  `titleOfCourtesy` VARCHAR(25) NULL,
  `birthDate` DATETIME NULL,
  `hireDate` DATETIME NULL,
  `address` VARCHAR(60) NULL,
  `city` VARCHAR(15) NULL,
  `region` VARCHAR(15) NULL,
  `postalCode` VARCHAR(10) NULL,
  `country` VARCHAR(15) NULL,
  `phone` VARCHAR(24) NULL,
  `extension` VARCHAR(4) NULL,
  `mobile` VARCHAR(24) NULL,
  `email` VARCHAR(225) NULL,
  `photo` BLOB NULL,
  `notes` TEXT NULL,
  `photoPath` VARCHAR(255) NULL,
  `mgrid` INT NULL,
  `createdAt` DATETIME DEFAULT CURRENT_TIMESTAMP,
  `updatedAt` DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `deletedAt` DATETIME DEFAULT NULL,
  PRIMARY KEY (`employeeId`)
) ENGINE=InnoDB;

CREATE TABLE `Shipper` (
  `shipperId` INT NOT NULL AUTO_INCREMENT,
  `companyName` VARCHAR(40) NOT NULL,
  `phone` VARCHAR(44) NULL,
  `createdAt` DATETIME DEFAULT CURRENT_TIMESTAMP,
  `updatedAt` DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `deletedAt` DATETIME DEFAULT NULL,
  PRIMARY KEY (`shipperId`)
) ENGINE=InnoDB;

CREATE TABLE `SalesOrder` (
  `orderId` INT NOT NULL AUTO_INCREMENT,
  `custId` INT NOT NULL,
  `employeeId` INT NULL,
  `orderDate` DATETIME NULL,
  `requiredDate` DATETIME NULL,
  `shippedDate` DATETIME NULL,
  `shipperId` INT NOT NULL,
  `freight` DECIMAL(10,2) NULL,
  `shipName` VARCHAR(40) NULL,
  `shipAddress` VARCHAR(60) NULL,
  `shipCity` VARCHAR(15) NULL,
  `shipRegion` VARCHAR(15) NULL,
  `shipPostalCode` VARCHAR(10) NULL,
  `shipCountry` VARCHAR(15) NULL,
  `createdAt` DATETIME DEFAULT CURRENT_TIMESTAMP,
  `updatedAt` DATETIME DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `deletedAt` DATETIME DEFAULT NULL,
  PRIMARY KEY (`orderId`),
  CONSTRAINT `SalesOrderShipperId` FOREIGN KEY (`shipperId`) REFERENCES `Shipper` (`shipperId`),
  CONSTRAINT `SalesOrderCustId` FOREIGN KEY (`custId`) REFERENCES `Customer` (`custId`),
  CONSTRAINT `SalesOrderEmployeeId` FOREIGN KEY (`employeeId`) REFERENCES `Employee` (`employeeId`) ON DELETE SET NULL
) ENGINE=InnoDB;
