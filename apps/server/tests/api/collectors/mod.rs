mod certificate;
mod register;
mod revoke;
mod token;
