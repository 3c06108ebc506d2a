mod push;
mod push_rejections;
