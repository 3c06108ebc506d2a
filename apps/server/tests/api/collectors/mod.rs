mod register;
mod revoke;
mod token;
